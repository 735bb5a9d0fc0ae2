"""A study config read and checked, its runs and before steps, and the commands each runs."""
import os
import os.path as osp
import re
from dataclasses import dataclass, field
from glob import escape, glob
from typing import List, Optional, Sequence

from mmengine.config import Config, DictAction

STUDY_KEYS = ('work_dir', 'metric', 'reference', 'seeds', 'cfg_options', 'test_options',
              'metrics', 'rows', 'before')
ROW_KEYS = ('name', 'config', 'cfg_options', 'seeds', 'metrics', 'test_options')
STEP_KEYS = ('name', 'config', 'cfg_options')
RESULT_FILE = 'result.json'
TRAIN_DONE_FILE = 'train_done.json'
LOG_FILE = 'run.log'
SPLITS = ('val', 'test')
_CHECKPOINT_REF = re.compile(r'\{checkpoint:([^{}]+)\}')


# --------------------------------------------------------------------------- config

@dataclass
class Row:
    """One line of the table: a config, its options and its seeds."""
    name: str
    config: str
    cfg_options: dict
    seeds: List[int]
    metrics: List[str]
    test_options: Optional[dict]


@dataclass
class Step:
    """A training that rows need first (e.g. a pre-training); runs once, no test."""
    name: str
    config: str
    cfg_options: dict


@dataclass
class Study:
    path: str
    work_dir: str
    metric: str
    reference: Optional[str]
    rows: List[Row]
    before: List[Step] = field(default_factory=list)
    metrics: List[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return osp.splitext(osp.basename(self.path))[0]


@dataclass
class Run:
    """One training (+ evaluation) in its own work dir."""
    name: str                   # row or step name
    seed: Optional[int]         # None for a before step
    config: str
    work_dir: str
    options: dict               # may still hold {work_dir} / {checkpoint:NAME}
    test_options: Optional[dict] = None
    is_step: bool = False

    @property
    def label(self) -> str:
        return self.name if self.seed is None else f'{self.name} seed {self.seed}'


def _check_keys(where: str, entry: dict, allowed: Sequence[str]) -> None:
    unknown = sorted(k for k in entry if k not in allowed and not k.startswith('_'))
    if unknown:
        raise ValueError(f'{where}: unknown key(s) {unknown}; allowed: {list(allowed)}')


def _options(where: str, value) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f'{where}: cfg_options must be a dict of config key -> value, '
                         f'got {type(value).__name__}')
    if 'randomness.seed' in value:
        raise ValueError(f"{where}: cfg_options sets 'randomness.seed'; give seeds with "
                         "'seeds' instead (the study sets randomness.seed per run)")
    for key, val in value.items():
        format_option(key, val, where)  # fails now rather than after hours of training
    return dict(value)


def _seeds(where: str, value) -> List[int]:
    if (not isinstance(value, (list, tuple)) or not value
            or not all(isinstance(s, int) and not isinstance(s, bool) for s in value)):
        raise ValueError(f'{where}: seeds must be a non-empty list of ints, got {value!r}')
    if len(set(value)) != len(value):
        raise ValueError(f'{where}: seeds {list(value)} repeat a seed')
    return list(value)


def _metric_list(where: str, value) -> List[str]:
    if value is None:
        return []
    if isinstance(value, str) or not all(isinstance(m, str) for m in value):
        raise ValueError(f"{where}: metrics must be a list of metric keys, e.g. ['ner/precision']")
    return list(value)


def _entry_name(where: str, entry: dict) -> str:
    if 'config' not in entry:
        raise ValueError(f"{where} has no 'config'")
    name = entry.get('name') or osp.splitext(osp.basename(entry['config']))[0]
    if not isinstance(name, str) or '/' in name or name in ('.', '..') or '{' in name:
        raise ValueError(f'{where}: name {name!r} cannot be a folder name')
    return name


def _config_path(where: str, config) -> str:
    if not isinstance(config, str) or not osp.isfile(config):
        raise ValueError(f'{where}: config {config!r} does not exist '
                         f'(paths are relative to the current directory, {os.getcwd()})')
    return config


def load_study(path: str) -> Study:
    """Read and check a study config; every mistake names the file and the key."""
    if not osp.isfile(path):
        raise ValueError(f'study config {path!r} does not exist')
    raw = Config.fromfile(path, import_custom_modules=False).to_dict()
    _check_keys(f'study {path}', raw, STUDY_KEYS)
    if not raw.get('metric') or not isinstance(raw['metric'], str):
        raise ValueError(f"study {path}: 'metric' (e.g. 'ner/f1', a key of tools/test.py's "
                         'JSON line) is missing')
    if not raw.get('rows'):
        raise ValueError(f"study {path}: 'rows' is missing or empty")
    seeds = _seeds(f'study {path}: seeds', raw.get('seeds', [0]))
    common = _options(f'study {path}: cfg_options', raw.get('cfg_options'))
    test_options = raw.get('test_options')
    if test_options is not None:
        test_options = _options(f'study {path}: test_options', test_options)
    work_dir = raw.get('work_dir') or osp.join(
        'work_dirs', 'studies', osp.splitext(osp.basename(path))[0])

    steps, names = [], set()
    for i, entry in enumerate(raw.get('before') or []):
        where = f'study {path}: before[{i}]'
        if not isinstance(entry, dict):
            raise ValueError(f'{where} must be a dict(name=..., config=...)')
        _check_keys(where, entry, STEP_KEYS)
        name = _entry_name(where, entry)
        if name in names:
            raise ValueError(f'{where}: name {name!r} is used twice')
        names.add(name)
        steps.append(Step(name, _config_path(where, entry['config']),
                          {**common, **_options(where, entry.get('cfg_options'))}))

    rows = []
    for i, entry in enumerate(raw['rows']):
        where = f'study {path}: rows[{i}]'
        if not isinstance(entry, dict):
            raise ValueError(f'{where} must be a dict(name=..., config=...)')
        _check_keys(where, entry, ROW_KEYS)
        name = _entry_name(where, entry)
        where = f"study {path}: row '{name}'"
        if name in names:
            raise ValueError(f'{where}: name {name!r} is used twice (rows and before steps '
                             'share WORK_DIR)')
        names.add(name)
        row_test = test_options
        if 'test_options' in entry:
            row_test = entry['test_options']
            row_test = None if row_test is None else _options(f'{where}: test_options', row_test)
        rows.append(Row(
            name=name, config=_config_path(where, entry['config']),
            cfg_options={**common, **_options(where, entry.get('cfg_options'))},
            seeds=_seeds(f'{where}: seeds', entry['seeds']) if 'seeds' in entry else seeds,
            metrics=_metric_list(f'{where}: metrics', entry.get('metrics')),
            test_options=row_test))

    step_names = [s.name for s in steps]
    for entry in steps + rows:
        for ref in _checkpoint_refs(entry.cfg_options):
            if ref not in step_names:
                raise ValueError(f"study {path}: '{entry.name}' refers to {{checkpoint:{ref}}}, "
                                 f'but {ref!r} is not a before step (before steps: {step_names})')
    reference = raw.get('reference')
    if reference is not None and reference not in [r.name for r in rows]:
        raise ValueError(f'study {path}: reference {reference!r} is not among the rows '
                         f'{[r.name for r in rows]}')
    return Study(path=path, work_dir=work_dir, metric=raw['metric'], reference=reference,
                 rows=rows, before=steps,
                 metrics=_metric_list(f'study {path}: metrics', raw.get('metrics')))


# --------------------------------------------------------------------------- runs

def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)


def _checkpoint_refs(options: dict) -> List[str]:
    return [m for v in options.values() for s in _strings(v) for m in _CHECKPOINT_REF.findall(s)]


def _uses_step(options: dict, step: str) -> bool:
    """Whether options name a before step: ``{checkpoint:STEP}`` or ``{work_dir}/STEP``."""
    own = re.compile(r'\{work_dir\}/' + re.escape(step) + r'(/|$)')
    return any(step in _checkpoint_refs({k: v}) or own.search(s)
               for k, v in options.items() for s in _strings(v))


def expand_runs(study: Study, only: Optional[Sequence[str]] = None,
                seeds: Optional[Sequence[int]] = None) -> List[Run]:
    """Every (row, seed) as a run; ``only`` keeps some rows, ``seeds`` some seeds.

    Runs go seed by seed (every row's first seed, then every row's second,
    ...), rows in the order of the config: a study cut short still has every
    row, with fewer seeds.
    """
    names = set(only) if only else None
    runs = [(i, Run(name=row.name, seed=seed, config=row.config,
                    work_dir=osp.join(study.work_dir, row.name, f'seed{seed}'),
                    options=dict(row.cfg_options), test_options=row.test_options))
            for row in study.rows if names is None or row.name in names for i, seed in enumerate(row.seeds)
            if seeds is None or seed in seeds]
    return [run for _, run in sorted(runs, key=lambda item: item[0])]


def expand_steps(study: Study, only: Optional[Sequence[str]] = None) -> List[Run]:
    """The before steps to run: all of them, or with ``only`` those named and those
    that the selected rows and steps refer to (``{checkpoint:NAME}``, ``{work_dir}/NAME``)."""
    if only:
        wanted = set(only)
        users = [r.cfg_options for r in study.rows if r.name in wanted]
        users += [s.cfg_options for s in study.before if s.name in wanted]
        changed = True
        while changed:  # steps that steps refer to, e.g. student -> teacher
            changed = False
            for step in study.before:
                if step.name not in wanted and any(_uses_step(o, step.name)
                                                   for o in users):
                    wanted.add(step.name)
                    users.append(step.cfg_options)
                    changed = True
    steps = [s for s in study.before if not only or s.name in wanted]
    return [Run(name=s.name, seed=None, config=s.config,
                work_dir=osp.join(study.work_dir, s.name), options=dict(s.cfg_options),
                is_step=True) for s in steps]


def check_only(study: Study, only: Optional[Sequence[str]]) -> None:
    known = [r.name for r in study.rows] + [s.name for s in study.before]
    unknown = [n for n in only or () if n not in known]
    if unknown:
        raise ValueError(f'--only {unknown}: not a row or before step of {study.path} '
                         f'(known: {known})')


def check_seeds(study: Study, only: Optional[Sequence[str]], seeds: Optional[Sequence[int]]) -> None:
    """``--seeds`` may name only seeds that a selected row has."""
    rows = [r for r in study.rows if not only or r.name in only]
    known = sorted({seed for row in rows for seed in row.seeds})
    unknown = [s for s in seeds or () if s not in known]
    if unknown:
        raise ValueError(f'--seeds {unknown}: no selected row of {study.path} has '
                         f'{"this seed" if len(unknown) == 1 else "these seeds"} (their seeds: {known})')


def last_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint MMEngine's ``last_checkpoint`` file names, if any."""
    marker = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(marker):
        return None
    with open(marker) as f:
        path = f.read().strip()
    return path if path and osp.isfile(path) else None


def best_checkpoint(work_dir: str) -> Optional[str]:
    """``best_*.pth`` (CheckpointHook's save_best), else the last checkpoint."""
    best = sorted(glob(osp.join(escape(work_dir), 'best_*.pth')), key=osp.getmtime)
    return best[-1] if best else last_checkpoint(work_dir)


def substitute(value, study: Study, dry_run: bool = False):
    """Resolve ``{work_dir}`` (the study's work dir) and ``{checkpoint:NAME}`` (the
    last checkpoint of before step NAME) in option values; nothing else is touched."""
    if isinstance(value, (list, tuple)):
        return type(value)(substitute(v, study, dry_run) for v in value)
    if not isinstance(value, str):
        return value

    def checkpoint(match):
        step_dir = osp.join(study.work_dir, match.group(1))
        ckpt = last_checkpoint(step_dir)
        if ckpt is None:
            if dry_run:
                return match.group(0)
            raise FileNotFoundError(f'{{checkpoint:{match.group(1)}}}: {step_dir} holds no '
                                    'checkpoint yet; the before step has not been trained')
        return ckpt

    return _CHECKPOINT_REF.sub(checkpoint, value.replace('{work_dir}', study.work_dir))


def same_value(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    return a == b


def _format_value(value) -> str:
    if isinstance(value, list):
        return '[' + ','.join(_format_value(v) for v in value) + ']'
    if isinstance(value, tuple):
        return '(' + ','.join(_format_value(v) for v in value) + ')'
    return str(value)


def format_option(key: str, value, where: str = '') -> str:
    """``key=value`` as ``--cfg-options`` takes it, checked to parse back to ``value``.

    MMEngine's DictAction turns ``'1'`` into an int, splits on commas and drops
    spaces; a value that would not arrive as written is refused here.
    """
    if isinstance(value, dict):
        raise ValueError(f'{where}: option {key!r}: a dict cannot be passed with --cfg-options;'
                         ' set its keys one by one (e.g. model.head.dropout=0.2)')
    text = _format_value(value)
    parsed = DictAction._parse_iterable(text)
    if not same_value(parsed, value):
        raise ValueError(f'{where}: option {key!r}={value!r} would reach the config as '
                         f'{parsed!r} through --cfg-options (strings cannot hold spaces or '
                         'commas or look like numbers)')
    return f'{key}={text}'


def cfg_option_args(options: dict, where: str = '') -> List[str]:
    if not options:
        return []
    return ['--cfg-options'] + [format_option(k, v, where) for k, v in options.items()]


def short_path(path: str) -> str:
    """Relative to the current directory when inside it: shorter recorded commands."""
    rel = osp.relpath(path)
    return path if rel.startswith('..') else rel


def train_options(run: Run, options: dict) -> dict:
    """The config options of a run's training: its seed (``randomness.seed``), then ``options``."""
    seed = {} if run.seed is None else {'randomness.seed': run.seed}
    return {**seed, **options}


def train_command(python: str, tools_dir: str, run: Run, options: dict,
                  resume: bool = False) -> List[str]:
    cmd = [python, short_path(osp.join(tools_dir, 'train.py')), run.config,
           '--work-dir', run.work_dir]
    if resume:
        cmd.append('--resume')
    return cmd + cfg_option_args(train_options(run, options), run.label)


def eval_command(python: str, tools_dir: str, run: Run, options: dict,
                 checkpoint: str) -> List[str]:
    return [python, short_path(osp.join(tools_dir, 'test.py')), run.config, checkpoint,
            '--work-dir', run.work_dir] + cfg_option_args(options, run.label)
