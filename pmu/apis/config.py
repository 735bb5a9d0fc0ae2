"""Loading a config the way the tools run it, and the few adjustments they make."""
import difflib
import inspect
import os.path as osp
from typing import Iterator, List, Optional, Tuple

import torch
from mmengine.config import Config

from pmu.utils.dist import init_cpu_process_group
from pmu.utils.errors import ConfigKeyError

# Pipeline steps that tokenise with the model's text encoder.
TOKENIZING_STEPS = ('TokenizeWords', 'InsertEntityMarkers')


def load_complete_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """``Config.fromfile`` + ``cfg_options`` (checked by :func:`check_cfg_options`) +
    :func:`complete_config`: ready for ``Runner.from_cfg``."""
    cfg = Config.fromfile(path)
    if cfg_options:
        check_cfg_options(cfg, cfg_options)
        cfg.merge_from_dict(cfg_options)
    return complete_config(cfg)




class ConfigValueError(ConfigKeyError, ValueError):
    """An override (``--cfg-options``) whose value is not of the type of the config's value there."""


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


def _section_class(section: str, owner: dict):
    import pmu.registry as registries
    registry_name, default, _ = _CHECKED_SECTIONS[section]
    type_ = owner.get('type', default)
    if section == 'train_cfg' and type_ is None:
        type_ = 'EpochBasedTrainLoop' if owner.get('by_epoch', True) else 'IterBasedTrainLoop'
    if not isinstance(type_, str):
        return type_ if inspect.isclass(type_) else None
    try:
        return getattr(registries, registry_name).get(type_)
    except Exception:  # a type registered by custom_imports: not checked here
        return None


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
    - a list index must exist (``param_scheduler.5`` of a two-entry list);
    - elsewhere (``model.*``, the dataloaders) new keys are allowed: the
      component's constructor refuses an argument it does not take when the
      run builds it, naming the key;
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
            _check_new_key(full_key, path, node, nxt)
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


def _check_new_key(full_key: str, path: List[str], owner: dict, key: str) -> None:
    where = '.'.join(path)
    section = where
    if len(path) == 2 and path[0] in ('param_scheduler', 'default_hooks'):
        section = f'{path[0]}.*'
    if where == 'optim_wrapper.paramwise_cfg':
        known = list(_PARAMWISE_KEYS)
        if key in known:
            return
        what = 'paramwise_cfg (DefaultOptimWrapperConstructor)'
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
    else:
        return
    known = sorted(set(known) - {'runner', 'dataloader', 'params', 'optimizer'} | set(owner))
    close = difflib.get_close_matches(key, known, n=3)
    raise ConfigKeyError(f"--cfg-options {full_key}: {what} takes no '{key}'"
                         + (f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else '')
                         + f' (known: {", ".join(known)})')


def load_tool_config(args) -> Config:
    """The config a tool runs: file, ``--cfg-options``, completion, launcher and work dir."""
    cfg = load_complete_config(args.config, args.cfg_options)
    cfg.launcher = args.launcher
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0])
    return cfg


def complete_config(cfg: Config) -> Config:
    """Fill in, in place, what pmu's configs state once and derive everywhere else.

    A dataset base (``configs/_base_/datasets/``) states the tag set, the
    relations, the entity markers, the sub-word budget and the pre-training
    cache; the model base states the text encoder; the schedule states
    fractions of training. This function copies them where MMEngine's
    components expect them, so that a leaf config is its ``_base_`` list.
    Every tool calls it (:func:`load_tool_config`); anyone building a
    ``Runner`` from a ``Config`` calls it after the last change to the config
    (``--cfg-options`` included), e.g. through :func:`load_complete_config`.

    Only values that are left out or ``None`` are filled; a value set
    explicitly stays. A key is filled where the component's type takes it
    (its ``__init__``). What is filled:

    - ``model.tags`` from the top-level ``tags``, else from ``entity_types``
      (the Twitter dataset bases): ``O``, then ``B-``/``I-`` of each type;
    - ``model.relations`` from ``relations`` (``mnre.py``);
    - ``model.text_encoder.extra_special_tokens`` from ``entity_markers``
      (``mnre.py``), so the model's vocabulary has the pipeline's markers;
    - in every pipeline (``{train,val,test}_dataloader.dataset.pipeline``,
      wrapped datasets included, and top-level ``*_pipeline`` lists):
      ``tokenizer`` of ``TokenizeWords`` and ``InsertEntityMarkers`` from
      ``model.text_encoder.name_or_path``, and their ``max_length`` from
      ``max_length``; ``LoadImage`` steps are dropped when the model takes a
      ``visual_encoder`` and has none (a text-only model decodes no image);
    - pre-training: each dataset's ``cache_dir`` from ``cache_dir``;
      ``model.entity_vocab`` / ``model.relation_vocab`` from the train
      dataset's cache (``<cache_dir>/entity_vocab.txt``,
      ``relation_vocab.txt``); ``model.max_length`` from ``max_length``;
    - ``param_scheduler``: an entry with pmu's ``span=(a, b)`` (begin and end
      as fractions of training) gets ``begin = a * train_cfg.max_epochs``,
      ``end = b * train_cfg.max_epochs`` and, unless set,
      ``convert_to_iter_based=True``; an epoch-based entry without ``end`` ends
      at ``train_cfg.max_epochs``. Schedules so follow
      ``--cfg-options train_cfg.max_epochs=N``. Use ``SpanLinearLR``
      (:mod:`pmu.engine.schedulers`) for spans: it rounds to iterations and
      keeps at least one, where MMEngine's schedulers truncate (a span shorter
      than one iteration then fails).

    A value that is needed and cannot be derived raises ``ValueError`` naming
    the key. Completing a completed config changes nothing.
    """
    model = cfg.get('model')
    model = model if isinstance(model, dict) else None
    if model is not None:
        _complete_model(cfg, model)
    _complete_pipelines(cfg, model)
    _complete_datasets(cfg, model)
    _complete_schedulers(cfg)
    return cfg


# --------------------------------------------------------------------------- helpers

def _init_param(type_, key: str, registry) -> Optional[inspect.Parameter]:
    """The ``__init__`` parameter ``key`` of a registered type (through ``**kwargs``
    to its bases), or None when it takes no such argument or is unknown."""
    cls = registry.get(type_) if isinstance(type_, str) else type_
    if not inspect.isclass(cls):
        return None
    for klass in cls.__mro__:
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        params = inspect.signature(init).parameters
        if key in params:
            return params[key]
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            return None
    return None


def _fill(owner: dict, key: str, where: str, value, source: str, registry) -> None:
    """``owner[key] = value`` when it is None or left out and ``owner``'s type takes it.

    Raises when the value is needed (given as None, or a required argument)
    and ``value`` is None.
    """
    if owner.get(key) is not None:
        return
    if key in owner:
        needed = True
    else:
        param = _init_param(owner.get('type'), key, registry)
        if param is None:
            return
        needed = param.default is inspect.Parameter.empty
    if value is None:
        if needed:
            raise ValueError(f'{where} is not set and cannot be derived: {source}. Set {where} or '
                             f'list a base that gives it (configs/_base_/)')
        return
    owner[key] = value


def _complete_model(cfg: Config, model: dict) -> None:
    from pmu.registry import MODELS
    tags = cfg.get('tags')
    if tags is None and cfg.get('entity_types'):
        from pmu.datasets import bio_tags  # the order the datasets use
        tags = bio_tags(cfg.entity_types)
    _fill(model, 'tags', 'model.tags', tags,
          'the config has neither `tags` nor `entity_types` (a Twitter dataset base states them)', MODELS)
    _fill(model, 'relations', 'model.relations', cfg.get('relations'),
          'the config has no top-level `relations` (configs/_base_/datasets/mnre.py states it)', MODELS)
    for key in ('tags', 'relations'):
        if model.get(key) is not None:
            model[key] = list(model[key])
    _fill(model, 'max_length', 'model.max_length', cfg.get('max_length'),
          'the config has no top-level `max_length` (the dataset base states it)', MODELS)
    encoder = model.get('text_encoder')
    if isinstance(encoder, dict):
        _fill(encoder, 'extra_special_tokens', 'model.text_encoder.extra_special_tokens',
              cfg.get('entity_markers'), 'the config has no top-level `entity_markers`', MODELS)


def _dataset_dicts(cfg: Config) -> Iterator[Tuple[str, dict]]:
    """``(where, dataset dict)`` of every dataloader's dataset, wrapped ones included."""

    def walk(where, ds):
        if isinstance(ds, dict):
            yield where, ds
            yield from walk(f'{where}.dataset', ds.get('dataset'))
            yield from walk(f'{where}.datasets', ds.get('datasets'))
        elif isinstance(ds, (list, tuple)):
            for i, d in enumerate(ds):
                yield from walk(f'{where}.{i}', d)

    seen = set()
    for split in ('train', 'val', 'test'):
        loader = cfg.get(f'{split}_dataloader')
        if isinstance(loader, dict):
            for where, ds in walk(f'{split}_dataloader.dataset', loader.get('dataset')):
                if id(ds) not in seen:  # test_dataloader is often val_dataloader
                    seen.add(id(ds))
                    yield where, ds


def _pipelines(cfg: Config) -> Iterator[Tuple[str, dict, str]]:
    """``(where, owner, key)`` such that ``owner[key]`` is a pipeline list."""
    for where, ds in _dataset_dicts(cfg):
        if isinstance(ds.get('pipeline'), list):
            yield f'{where}.pipeline', ds, 'pipeline'
    for key, value in list(cfg.items()):
        if key.endswith('_pipeline') and isinstance(value, list):
            yield key, cfg, key


def _complete_pipelines(cfg: Config, model: Optional[dict]) -> None:
    from pmu.registry import MODELS, TRANSFORMS
    encoder = (model or {}).get('text_encoder')
    tokenizer = encoder.get('name_or_path') if isinstance(encoder, dict) else None
    text_only = (model is not None and not model.get('visual_encoder')
                 and _init_param(model.get('type'), 'visual_encoder', MODELS) is not None)
    marks_entities = False
    for where, owner, key in _pipelines(cfg):
        steps = owner[key]
        if text_only:
            steps = [s for s in steps if not (isinstance(s, dict) and s.get('type') == 'LoadImage')]
            owner[key] = steps
        for i, step in enumerate(steps):
            if not (isinstance(step, dict) and step.get('type') in TOKENIZING_STEPS):
                continue
            marks_entities |= step['type'] == 'InsertEntityMarkers'
            _fill(step, 'tokenizer', f'{where}.{i}.tokenizer', tokenizer,
                  'model.text_encoder.name_or_path is not set', TRANSFORMS)
            _fill(step, 'max_length', f'{where}.{i}.max_length', cfg.get('max_length'),
                  'the config has no top-level `max_length` (the dataset base states it)', TRANSFORMS)
    if marks_entities and isinstance(encoder, dict) and not encoder.get('extra_special_tokens'):
        raise ValueError('model.text_encoder.extra_special_tokens is not set and cannot be derived: the '
                         'pipeline inserts entity markers but the config has no top-level `entity_markers`; '
                         'the text encoder must know the markers (configs/_base_/datasets/mnre.py states them)')


def _complete_datasets(cfg: Config, model: Optional[dict]) -> None:
    from pmu.registry import DATASETS, MODELS
    for where, ds in _dataset_dicts(cfg):
        _fill(ds, 'cache_dir', f'{where}.cache_dir', cfg.get('cache_dir'),
              'the config has no top-level `cache_dir` (the pre-training dataset base states it)', DATASETS)
    if model is None:
        return
    train = (cfg.get('train_dataloader') or {}).get('dataset') or {}
    cache = train.get('cache_dir') if isinstance(train, dict) else None
    for key in ('entity_vocab', 'relation_vocab'):
        _fill(model, key, f'model.{key}', osp.join(cache, f'{key}.txt') if cache else None,
              'train_dataloader.dataset.cache_dir is not set', MODELS)


def _complete_schedulers(cfg: Config) -> None:
    schedulers = cfg.get('param_scheduler')
    if not schedulers:
        return
    entries: List[Tuple[str, dict]] = (
        [(f'param_scheduler.{i}', s) for i, s in enumerate(schedulers)] if isinstance(schedulers, list)
        else [('param_scheduler', schedulers)])
    epochs = (cfg.get('train_cfg') or {}).get('max_epochs')
    for where, s in entries:
        by_epoch = s.get('by_epoch', True)
        if 'span' in s:
            span = s.pop('span')
            if not by_epoch:
                raise ValueError(f'{where}.span needs by_epoch=True (a span is a fraction of the epochs)')
            if epochs is None:
                raise ValueError(f'{where}.span: train_cfg.max_epochs is not set (an epoch-based loop is needed)')
            if 'begin' in s or 'end' in s:
                raise ValueError(f'{where}: give span or begin/end, not both')
            a, b = span
            if not 0 <= a < b <= 1:
                raise ValueError(f'{where}.span={tuple(span)}: need 0 <= begin < end <= 1')
            s.update(begin=round(a * epochs, 9), end=round(b * epochs, 9))
            s.setdefault('convert_to_iter_based', True)
        elif by_epoch and 'end' not in s and epochs is not None:
            s['end'] = epochs
        if by_epoch and 'end' in s and s['end'] <= s.get('begin', 0):
            raise ValueError(f'{where} ends at epoch {s["end"]}, not after its begin {s.get("begin", 0)} '
                             f'(train_cfg.max_epochs={epochs})')


# --------------------------------------------------------------------------- run-time adjustments

def resolve_dist_backend(cfg: Config) -> None:
    """``dist_cfg.backend='auto'``: nccl when CUDA is available, gloo otherwise."""
    dist_cfg = cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    if dist_cfg.get('backend', 'auto') == 'auto':
        dist_cfg['backend'] = 'nccl' if torch.cuda.is_available() else 'gloo'


def init_cpu_distributed(cfg: Config) -> None:
    """Start the gloo process group for ``--launcher pytorch`` without CUDA.

    MMEngine's ``init_dist`` calls ``torch.cuda.set_device`` first, which a
    CPU-only torch build cannot do; the runner skips its own initialisation
    when a process group already exists. DDP on CPU also takes no device ids.
    """
    if cfg.get('launcher', 'none') != 'pytorch' or torch.cuda.is_available():
        return
    init_cpu_process_group()
    wrapper = cfg.get('model_wrapper_cfg') or dict(type='MMDistributedDataParallel')
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper


def amp_optim_wrapper(optim_wrapper: dict) -> dict:
    """``--amp``: bfloat16 where the device has it (CPU, Ampere+), else float16 with loss scaling."""
    optim_wrapper = dict(optim_wrapper)
    if not torch.cuda.is_available():
        optim_wrapper.update(type='AutocastOptimWrapper', dtype='bfloat16', device_type='cpu')
    elif torch.cuda.is_bf16_supported():
        optim_wrapper.update(type='AmpOptimWrapper', dtype='bfloat16')
    else:
        optim_wrapper.update(type='AmpOptimWrapper', dtype='float16', loss_scale='dynamic')
    return optim_wrapper


def pin_memory_on_cuda(cfg: Config, cuda: Optional[bool] = None) -> Config:
    """On a CUDA machine, dataloaders that leave ``pin_memory`` unset pin their batches (page-locked
    host memory: faster, asynchronous copies to the GPU); on CPU nothing changes. An explicit
    ``pin_memory=False`` stays."""
    if not (torch.cuda.is_available() if cuda is None else cuda):
        return cfg
    for split in ('train', 'val', 'test'):
        loader = cfg.get(f'{split}_dataloader')
        if isinstance(loader, dict) and loader.get('pin_memory') is None:
            loader['pin_memory'] = True
    return cfg


def prepare_train_config(cfg: Config, amp: bool = False, resume=None, compile: bool = False) -> Config:
    complete_config(cfg)  # a no-op for a config from load_tool_config
    resolve_dist_backend(cfg)
    init_cpu_distributed(cfg)
    pin_memory_on_cuda(cfg)
    if amp:
        cfg.optim_wrapper = amp_optim_wrapper(cfg.optim_wrapper)
    if compile and not any(h.get('type') == 'CompileModelHook' for h in cfg.get('custom_hooks') or []):
        cfg.custom_hooks = [*(cfg.get('custom_hooks') or []), dict(type='CompileModelHook')]
    if resume == 'auto':
        work_dir = cfg.get('work_dir')
        if work_dir and not osp.isfile(osp.join(work_dir, 'last_checkpoint')):
            raise FileNotFoundError(
                f'--resume: nothing to resume in {work_dir} (no last_checkpoint there, the file MMEngine writes '
                'with each checkpoint): train without --resume, give --work-dir of the interrupted run, or '
                'name its checkpoint (--resume PATH)')
        cfg.resume = True
        cfg.load_from = None
    elif resume:
        if not osp.isfile(resume):
            raise FileNotFoundError(f'--resume {resume}: no such checkpoint file')
        cfg.resume = True
        cfg.load_from = resume
    return cfg


def prepare_test_config(cfg: Config, checkpoint: str, out=None) -> Config:
    complete_config(cfg)
    resolve_dist_backend(cfg)
    init_cpu_distributed(cfg)
    pin_memory_on_cuda(cfg)
    cfg.load_from = checkpoint
    if out:
        evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) \
            else [cfg.test_evaluator]
        for ev in evaluators:
            ev['out_file'] = out
    return cfg
