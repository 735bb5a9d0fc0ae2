"""Completing a config: what pmu's configs state once, copied where MMEngine's components read it.

:func:`complete_config` runs :data:`COMPLETION_STEPS` in order; each step is a
function of the config with a docstring saying what it fills.
:func:`completion_changes` runs them one by one and names the keys each step
changed (``tools/misc/print_config.py --steps`` prints them).
"""
import copy
import inspect
import os.path as osp
from typing import Callable, Iterable, Iterator, List, Optional, Tuple

from mmengine.config import Config

from pmu.utils.errors import ConfigError

# Pipeline steps that tokenise with the model's text encoder.
TOKENIZING_STEPS = ('TokenizeWords', 'InsertEntityMarkers')

# The steps of complete_config, in the order they run (see completion_step).
COMPLETION_STEPS: List[Callable[[Config], None]] = []


def completion_step(func: Callable[[Config], None]) -> Callable[[Config], None]:
    """Append ``func`` (a function of the config, changing it in place, with a docstring) to
    :data:`COMPLETION_STEPS`. A step fills only what is left out or ``None`` and is idempotent."""
    if not (func.__doc__ or '').strip():
        raise ValueError(f'completion step {func.__name__} has no docstring: say what it fills')
    COMPLETION_STEPS.append(func)
    return func


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
    (its ``__init__``). The steps (:data:`COMPLETION_STEPS`, in this order):

    - ``model_labels``: ``model.tags`` from the top-level ``tags``, else from
      ``entity_types`` (the Twitter dataset bases): ``O``, then ``B-``/``I-``
      of each type; ``model.relations`` from ``relations`` (``mnre.py``);
      ``model.max_length`` from ``max_length``;
      ``model.text_encoder.extra_special_tokens`` from ``entity_markers``
      (``mnre.py``), so the model's vocabulary has the pipeline's markers;
    - ``text_only_pipelines``: ``LoadImage`` steps are dropped from every
      pipeline (``{train,val,test}_dataloader.dataset.pipeline``, wrapped
      datasets included, and top-level ``*_pipeline`` lists) when the model
      takes a ``visual_encoder`` and has none (a text-only model decodes no
      image);
    - ``tokenizing_steps``: ``tokenizer`` of ``TokenizeWords`` and
      ``InsertEntityMarkers`` from ``model.text_encoder.name_or_path``, and
      their ``max_length`` from ``max_length``; ``TokenizeWords``'
      ``caption_segment='separate'`` when the model has a ``caption_encoder``;
    - ``pretraining_caches``: each dataset's ``cache_dir`` from ``cache_dir``;
      ``model.entity_vocab`` / ``model.relation_vocab`` from the train
      dataset's cache (``<cache_dir>/entity_vocab.txt``,
      ``relation_vocab.txt``);
    - ``scheduler_spans``: a ``param_scheduler`` entry with pmu's
      ``span=(a, b)`` (begin and end as fractions of training) gets
      ``begin = a * train_cfg.max_epochs``, ``end = b * train_cfg.max_epochs``
      and, unless set, ``convert_to_iter_based=True``; an epoch-based entry
      without ``end`` ends at ``train_cfg.max_epochs``. Schedules so follow
      ``--cfg-options train_cfg.max_epochs=N``. Use ``SpanLinearLR``
      (:mod:`pmu.engine.schedulers`) for spans: it rounds to iterations and
      keeps at least one, where MMEngine's schedulers truncate (a span shorter
      than one iteration then fails).

    A value that is needed and cannot be derived raises
    :class:`~pmu.utils.errors.ConfigError` (a ``ValueError``) naming the key.
    Completing a completed config changes nothing.
    """
    for step in COMPLETION_STEPS:
        step(cfg)
    return cfg


def completion_changes(cfg: Config) -> List[Tuple[str, List[str]]]:
    """Complete ``cfg`` in place as :func:`complete_config` does; ``(step name, keys it added or
    changed)`` for each step of :data:`COMPLETION_STEPS` (a list that lost entries is named whole)."""
    changes = []
    for step in COMPLETION_STEPS:
        before = copy.deepcopy(cfg.to_dict())
        step(cfg)
        changes.append((step.__name__, _changed_keys(before, cfg.to_dict())))
    return changes


def _changed_keys(old, new, where: str = '') -> List[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        return [k for key in list(old) + [k for k in new if k not in old]
                for k in _changed_keys(old.get(key, _MISSING), new.get(key, _MISSING),
                                       f'{where}.{key}' if where else str(key))]
    if isinstance(old, (list, tuple)) and isinstance(new, (list, tuple)) and len(old) == len(new):
        return [k for i, (a, b) in enumerate(zip(old, new)) for k in _changed_keys(a, b, f'{where}.{i}')]
    return [] if old == new and type(old) is type(new) else [where]


_MISSING = object()


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
            raise ConfigError(f'{where} is not set and cannot be derived: {source}. Set {where} or '
                              f'list a base that gives it (configs/_base_/)')
        return
    owner[key] = value


def _model(cfg: Config) -> Optional[dict]:
    model = cfg.get('model')
    return model if isinstance(model, dict) else None


def _dataset_dicts(cfg: Config, splits: Iterable[str] = ('train', 'val', 'test'),
                   shared_once: bool = True) -> Iterator[Tuple[str, dict]]:
    """``(where, dataset dict)`` of every dataloader's dataset, wrapped ones included; with
    ``shared_once``, a dataset that two loaders share is listed once (under the first)."""

    def walk(where, ds):
        if isinstance(ds, dict):
            yield where, ds
            yield from walk(f'{where}.dataset', ds.get('dataset'))
            yield from walk(f'{where}.datasets', ds.get('datasets'))
        elif isinstance(ds, (list, tuple)):
            for i, d in enumerate(ds):
                yield from walk(f'{where}.{i}', d)

    seen = set()
    for split in splits:
        loader = cfg.get(f'{split}_dataloader')
        if isinstance(loader, dict):
            for where, ds in walk(f'{split}_dataloader.dataset', loader.get('dataset')):
                if not shared_once or id(ds) not in seen:  # test_dataloader is often val_dataloader
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


# --------------------------------------------------------------------------- the steps, in order

@completion_step
def model_labels(cfg: Config) -> None:
    """``model.tags`` (from ``tags``, else ``entity_types``: ``O`` then ``B-``/``I-`` of each type),
    ``model.relations`` (from ``relations``), ``model.max_length`` (from ``max_length``) and
    ``model.text_encoder.extra_special_tokens`` (from ``entity_markers``), where the model takes them."""
    from pmu.registry import MODELS
    model = _model(cfg)
    if model is None:
        return
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


@completion_step
def text_only_pipelines(cfg: Config) -> None:
    """``LoadImage`` steps dropped from every pipeline when the model takes a ``visual_encoder`` and has
    none (a text-only model decodes no image)."""
    from pmu.registry import MODELS
    model = _model(cfg)
    text_only = (model is not None and not model.get('visual_encoder')
                 and _init_param(model.get('type'), 'visual_encoder', MODELS) is not None)
    if not text_only:
        return
    for _, owner, key in _pipelines(cfg):
        owner[key] = [s for s in owner[key] if not (isinstance(s, dict) and s.get('type') == 'LoadImage')]


@completion_step
def tokenizing_steps(cfg: Config) -> None:
    """``tokenizer`` (from ``model.text_encoder.name_or_path``) and ``max_length`` (from ``max_length``)
    of every ``TokenizeWords`` and ``InsertEntityMarkers`` step, and ``caption_segment='separate'`` of
    ``TokenizeWords`` when the model reads the caption on its visual side (``model.caption_encoder``);
    a pipeline that inserts entity markers needs ``model.text_encoder.extra_special_tokens``."""
    from pmu.registry import TRANSFORMS
    encoder = (_model(cfg) or {}).get('text_encoder')
    tokenizer = encoder.get('name_or_path') if isinstance(encoder, dict) else None
    separate_caption = bool((_model(cfg) or {}).get('caption_encoder'))
    marks_entities = False
    for where, owner, key in _pipelines(cfg):
        for i, step in enumerate(owner[key]):
            if not (isinstance(step, dict) and step.get('type') in TOKENIZING_STEPS):
                continue
            marks_entities |= step['type'] == 'InsertEntityMarkers'
            _fill(step, 'tokenizer', f'{where}.{i}.tokenizer', tokenizer,
                  'model.text_encoder.name_or_path is not set', TRANSFORMS)
            _fill(step, 'max_length', f'{where}.{i}.max_length', cfg.get('max_length'),
                  'the config has no top-level `max_length` (the dataset base states it)', TRANSFORMS)
            if separate_caption and step['type'] == 'TokenizeWords':
                _fill(step, 'caption_segment', f'{where}.{i}.caption_segment', 'separate', '', TRANSFORMS)
                if step['caption_segment'] != 'separate':
                    raise ConfigError(f"{where}.{i}.caption_segment={step['caption_segment']!r}: the model reads "
                                      "the caption on its visual side (model.caption_encoder), which needs the "
                                      "caption encoded apart from the post; leave it out or set 'separate'")
    if marks_entities and isinstance(encoder, dict) and not encoder.get('extra_special_tokens'):
        raise ConfigError('model.text_encoder.extra_special_tokens is not set and cannot be derived: the '
                          'pipeline inserts entity markers but the config has no top-level `entity_markers`; '
                          'the text encoder must know the markers (configs/_base_/datasets/mnre.py states them)')


@completion_step
def pretraining_caches(cfg: Config) -> None:
    """Each dataset's ``cache_dir`` (from ``cache_dir``), then ``model.entity_vocab`` and
    ``model.relation_vocab`` from the train dataset's cache (``<cache_dir>/entity_vocab.txt``, ...)."""
    from pmu.registry import DATASETS, MODELS
    for where, ds in _dataset_dicts(cfg):
        _fill(ds, 'cache_dir', f'{where}.cache_dir', cfg.get('cache_dir'),
              'the config has no top-level `cache_dir` (the pre-training dataset base states it)', DATASETS)
    model = _model(cfg)
    if model is None:
        return
    train = (cfg.get('train_dataloader') or {}).get('dataset') or {}
    cache = train.get('cache_dir') if isinstance(train, dict) else None
    for key in ('entity_vocab', 'relation_vocab'):
        _fill(model, key, f'model.{key}', osp.join(cache, f'{key}.txt') if cache else None,
              'train_dataloader.dataset.cache_dir is not set', MODELS)


@completion_step
def scheduler_spans(cfg: Config) -> None:
    """``param_scheduler`` entries: pmu's ``span=(a, b)`` (fractions of training) becomes
    ``begin``/``end`` in epochs of ``train_cfg.max_epochs`` (``convert_to_iter_based=True`` unless set);
    an epoch-based entry without ``end`` ends at ``train_cfg.max_epochs``."""
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
                raise ConfigError(f'{where}.span needs by_epoch=True (a span is a fraction of the epochs)')
            if epochs is None:
                raise ConfigError(f'{where}.span: train_cfg.max_epochs is not set (an epoch-based loop is needed)')
            if 'begin' in s or 'end' in s:
                raise ConfigError(f'{where}: give span or begin/end, not both')
            a, b = span
            if not 0 <= a < b <= 1:
                raise ConfigError(f'{where}.span={tuple(span)}: need 0 <= begin < end <= 1')
            s.update(begin=round(a * epochs, 9), end=round(b * epochs, 9))
            s.setdefault('convert_to_iter_based', True)
        elif by_epoch and 'end' not in s and epochs is not None:
            s['end'] = epochs
        if by_epoch and 'end' in s and s['end'] <= s.get('begin', 0):
            raise ConfigError(f'{where} ends at epoch {s["end"]}, not after its begin {s.get("begin", 0)} '
                              f'(train_cfg.max_epochs={epochs})')
