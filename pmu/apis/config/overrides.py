"""Checking ``--cfg-options`` before they are merged: :func:`check_cfg_options`."""
import difflib
import inspect
from typing import List, Optional

from mmengine.config import Config

from pmu.utils.errors import ConfigKeyError, ConfigValueError

# Sections whose new keys must be arguments of the component they build (the type, or the type
# MMEngine builds when the section gives none), and the keys MMEngine or pmu read themselves.
_CHECKED_SECTIONS = {
    'train_cfg': ('LOOPS', None, ('type', 'by_epoch')),
    'val_cfg': ('LOOPS', 'ValLoop', ('type', )),
    'test_cfg': ('LOOPS', 'TestLoop', ('type', )),
    'optim_wrapper': ('OPTIM_WRAPPERS', 'OptimWrapper', ('type', 'optimizer', 'constructor', 'paramwise_cfg')),
    'optim_wrapper.optimizer': ('OPTIMIZERS', None, ('type', )),
    'param_scheduler.*': ('PARAM_SCHEDULERS', None, ('type', 'by_epoch', 'begin', 'end', 'span',
                                                     'convert_to_iter_based')),
    'default_hooks.*': ('HOOKS', None, ('type', 'priority')),
}
_PARAMWISE_KEYS = ('custom_keys', 'bias_lr_mult', 'bias_decay_mult', 'norm_decay_mult', 'dwconv_decay_mult',
                   'flat_decay_mult', 'bypass_duplicate', 'dcn_offset_lr_mult')
# What MMEngine's Runner.build_dataloader reads from a ``*_dataloader`` itself; the rest goes to
# torch's DataLoader.
_DATALOADER_KEYS = ('dataset', 'sampler', 'batch_sampler', 'collate_fn', 'worker_init_fn', 'num_batch_per_epoch',
                    'disable_subprocess_warning')
# Typed dicts inside a dataloader, by the last component of their path: the registry that builds them.
_DATALOADER_PARTS = {'dataset': 'DATASETS', 'sampler': 'DATA_SAMPLERS', 'batch_sampler': 'DATA_SAMPLERS'}
# Arguments that the owner passes itself, left out of the keys an error lists.
_INTERNAL = {'runner', 'dataloader', 'params', 'optimizer'}


def _takes(cls, key: str) -> Optional[bool]:
    """Whether ``cls.__init__`` takes ``key`` (following ``**kwargs`` to its bases); None: cannot tell."""
    for klass in cls.__mro__:
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        if klass is object:
            return None
        try:
            params = inspect.signature(init).parameters
        except (TypeError, ValueError):
            return None
        if key in params:
            return True
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            return False
    return None


def _init_keys(cls) -> List[str]:
    keys = []
    for klass in cls.__mro__:
        init = klass.__dict__.get('__init__')
        if init is None or klass is object:
            continue
        params = inspect.signature(init).parameters
        keys += [k for k, p in params.items() if k != 'self' and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            break
    return keys


def _registered_class(registry_name: str, type_):
    """The class ``type_`` names in pmu's registry ``registry_name`` (a class given as type is itself);
    None when it is not registered there (a type of ``custom_imports``: not checked)."""
    import pmu.registry as registries
    if not isinstance(type_, str):
        return type_ if inspect.isclass(type_) else None
    try:
        cls = getattr(registries, registry_name).get(type_)
    except Exception:  # a type registered by custom_imports: not checked here
        return None
    return cls if inspect.isclass(cls) else None


def _section_class(section: str, owner: dict):
    registry_name, default, _ = _CHECKED_SECTIONS[section]
    type_ = owner.get('type', default)
    if section == 'train_cfg' and type_ is None:
        # what the Runner builds for a train_cfg without type: pmu's scope maps the name to its own loop
        type_ = 'EpochBasedTrainLoop' if owner.get('by_epoch', True) else 'IterBasedTrainLoop'
    return _registered_class(registry_name, type_)


def check_cfg_options(cfg: Config, options: dict) -> None:
    """Refuse overrides that nothing would read, before they are merged into ``cfg``.

    The rule (``--cfg-options`` of every tool):

    - the first component of a key must be a key of the config, or an
      argument of MMEngine's ``Runner`` (``work_dir``, ``load_from``, ...);
      otherwise ``ConfigKeyError`` names it and the closest keys (a misspelt
      ``train_cfgs.max_epochs=1`` would train the config's own epochs);
    - under ``train_cfg``, ``val_cfg``, ``test_cfg``, ``optim_wrapper`` (its
      ``optimizer`` and ``paramwise_cfg`` too), each ``param_scheduler``
      entry and each ``default_hooks`` entry, a key the config does not
      have yet must be an argument of the component's type (or a key
      MMEngine or pmu read there, such as ``by_epoch`` or ``span``); a new
      ``default_hooks`` entry (a hook of its own) is allowed;
    - under ``model``, in each dict with a registered ``type`` (the model,
      its ``fusion``, ``head``, ``text_encoder`` ...), a new key must be an
      argument of that type (``model.fusion.num_layer`` -> ``num_layers``;
      ``model.fusoin`` -> ``fusion``); a dict without ``type`` (one the
      model reads itself) takes any key; a ``type`` given by the same
      overrides is the one checked against;
    - a ``*_dataloader`` takes the arguments of torch's ``DataLoader`` and
      the keys MMEngine reads there (``dataset``, ``sampler``,
      ``collate_fn``, ...: ``batch_sise`` -> ``batch_size``); its
      ``dataset`` (wrapped ones too), ``sampler`` and ``batch_sampler`` take
      the arguments of their registered type;
    - a list index must exist (``param_scheduler.5`` of a two-entry list);
    - elsewhere new keys are allowed;
    - a value replacing one the config has must be of its type
      (``ConfigValueError`` names the key, the value and the type expected):
      a number for a number (int and float alike, not ``True``), ``True`` or
      ``False`` for a bool, a string for a string (or a list of strings), a
      list or tuple for a list or tuple, a dict for a dict; a tuple of numbers
      (``betas``, sizes, spans) keeps its length and holds numbers.
      ``None`` may replace anything and anything may replace ``None``. Values
      under ``model`` are left to the model's constructor: some of its
      arguments take several types (``pseudo_labels.tau``: a number or
      ``'teacher'``).

    ``paramwise_cfg.custom_keys`` that match no parameter are refused when
    the optimizer is built (pmu's default constructor checks them, :class:`pmu.engine.CheckedOptimWrapperConstructor`).
    """
    from mmengine.runner import Runner
    runner_keys = set(inspect.signature(Runner.__init__).parameters) - {'self'}
    for full_key in options:
        parts = full_key.split('.')
        if parts[0] not in cfg and parts[0] not in runner_keys:
            close = difflib.get_close_matches(parts[0], sorted(set(cfg.keys()) | runner_keys), n=3)
            raise ConfigKeyError(f"--cfg-options {full_key}: the config has no key '{parts[0]}'"
                                 + (f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else
                                    f'; its keys are {sorted(cfg.keys())}'))
        node, path = cfg, []
        for i, part in enumerate(parts[:-1] if len(parts) > 1 else []):
            node = node.get(part) if isinstance(node, (dict, Config)) else node[int(part)]
            path.append(part)
            nxt = parts[i + 1]
            if isinstance(node, (list, tuple)):
                if not nxt.isdigit() or int(nxt) >= len(node):
                    raise ConfigKeyError(f'--cfg-options {full_key}: {".".join(path)} is a list of {len(node)} '
                                         f'entries, it has no entry {nxt!r}')
                continue
            if not isinstance(node, dict):
                raise ConfigKeyError(f'--cfg-options {full_key}: {".".join(path)} is {node!r}, not a dict')
            if nxt in node:
                continue
            given_type = options.get('.'.join(path + ['type']))
            # checked against the type the overrides give (model.fusion.type=... model.fusion.its_arg=...)
            _check_new_key(full_key, path, dict(node, type=given_type) if given_type else node, nxt)
            break
        else:
            last = parts[-1]
            if isinstance(node, (list, tuple)):
                existing = node[int(last)]
            elif last in node:
                existing = node[last]
            else:
                continue
            if parts[0] != 'model':
                _check_value_type(full_key, existing, options[full_key])


def _value_kind(value) -> str:
    if isinstance(value, bool):
        return 'true or false'
    if isinstance(value, (int, float)):
        return 'a number'
    if isinstance(value, str):
        return 'a string'
    if isinstance(value, (list, tuple)):
        return 'a list or tuple'
    if isinstance(value, dict):
        return 'a dict'
    return type(value).__name__


def _check_value_type(full_key: str, existing, given) -> None:
    """``given`` may replace the config's ``existing`` value (the rules of :func:`check_cfg_options`)."""
    if existing is None or given is None:
        return
    expected, got = _value_kind(existing), _value_kind(given)
    ok = expected == got
    if expected == 'a string' and got == 'a list or tuple':
        ok = all(isinstance(v, str) for v in given)  # MMEngine takes lists of metrics, files, ...
        expected = 'a string (or a list of strings)'
    numbers = (isinstance(existing, tuple) and existing
               and all(_value_kind(v) == 'a number' for v in existing))
    if ok and numbers:
        ok = len(given) == len(existing) and all(_value_kind(v) == 'a number' for v in given)
        expected = f'{len(existing)} numbers'
    if not ok:
        raise ConfigValueError(f'--cfg-options {full_key}={given!r}: expected {expected}, as the config\'s '
                               f'{existing!r}; got {got if not numbers else repr(given)}')


def _component_class(path: List[str], owner: dict):
    """The class that builds the typed dict ``owner`` at ``path`` under ``model`` or a dataloader, or None
    (no ``type``, or one that is not registered)."""
    if 'type' not in owner:
        return None
    if path[0] == 'model':
        return _registered_class('MODELS', owner['type'])
    name = path[-2] if path[-1].isdigit() and len(path) > 1 else path[-1]
    if len(path) > 1 and path[-2] == 'pipeline':
        return _registered_class('TRANSFORMS', owner['type'])
    if name in ('dataset', 'datasets'):
        return _registered_class('DATASETS', owner['type'])
    if name in _DATALOADER_PARTS:
        return _registered_class(_DATALOADER_PARTS[name], owner['type'])
    return None


def _check_new_key(full_key: str, path: List[str], owner: dict, key: str) -> None:
    where = '.'.join(path)
    section = where
    if len(path) == 2 and path[0] in ('param_scheduler', 'default_hooks'):
        section = f'{path[0]}.*'
    if where == 'optim_wrapper.paramwise_cfg':
        known = list(_PARAMWISE_KEYS)
        if key in known:
            return
        what = "paramwise_cfg (the optimizer constructor's)"
    elif where == 'default_hooks':
        return  # a hook of its own
    elif section in _CHECKED_SECTIONS:
        cls = _section_class(section, owner)
        if cls is None:
            return
        extra = _CHECKED_SECTIONS[section][2]
        if key in extra or _takes(cls, key) is not False:
            return
        known = list(extra) + _init_keys(cls)
        what = f'{where} ({cls.__name__})'
    elif len(path) == 1 and path[0].endswith('_dataloader'):
        from torch.utils.data import DataLoader
        if key in _DATALOADER_KEYS or _takes(DataLoader, key) is not False:
            return
        known = list(_DATALOADER_KEYS) + _init_keys(DataLoader)
        what = f"{where} (torch's DataLoader, built by MMEngine's Runner)"
    elif path[0] == 'model' or path[0].endswith('_dataloader'):
        cls = _component_class(path, owner)
        if cls is None:
            return  # a dict the owner reads itself, or a type pmu does not know
        extra = ('type', )
        if key in extra or _takes(cls, key) is not False:
            return
        known = list(extra) + _init_keys(cls)
        what = f'{where} ({cls.__name__})'
    else:
        return
    known = sorted(set(known) - _INTERNAL | set(owner))
    close = difflib.get_close_matches(key, known, n=3)
    raise ConfigKeyError(f"--cfg-options {full_key}: {what} takes no '{key}'"
                         + (f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else '')
                         + f' (known: {", ".join(known)})')
