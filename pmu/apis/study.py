"""Multi-seed studies: many trainings, one table.

A *study config* (an MMEngine Python config, see ``configs/studies/README.md``)
lists rows (a model config plus ``--cfg-options``) and seeds. Every (row, seed)
is one *run*: ``tools/train.py`` in its own work dir, then ``tools/test.py`` on
its best checkpoint, in subprocesses, so that a run here is exactly the run a
person gets by pasting the recorded commands. Results live next to the
checkpoints (``WORK_DIR/ROW/seedS/result.json``): a finished run is never
trained again, a killed one resumes, and ``study.json`` / ``study.md`` can be
rebuilt from them at any time.
"""
import json
import os
import os.path as osp
import queue
import re
import shlex
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from glob import escape, glob
from typing import Callable, Dict, List, Optional, Sequence

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
DEFAULT_TOOLS_DIR = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'tools')


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


def expand_runs(study: Study, only: Optional[Sequence[str]] = None) -> List[Run]:
    """Every (row, seed) as a run; ``only`` keeps some rows.

    Runs go seed by seed (every row's first seed, then every row's second,
    ...), rows in the order of the config: a study cut short still has every
    row, with fewer seeds.
    """
    names = set(only) if only else None
    runs = [(i, Run(name=row.name, seed=seed, config=row.config,
                    work_dir=osp.join(study.work_dir, row.name, f'seed{seed}'),
                    options=dict(row.cfg_options), test_options=row.test_options))
            for row in study.rows if names is None or row.name in names for i, seed in enumerate(row.seeds)]
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


def _same(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
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
    if not _same(parsed, value):
        raise ValueError(f'{where}: option {key!r}={value!r} would reach the config as '
                         f'{parsed!r} through --cfg-options (strings cannot hold spaces or '
                         'commas or look like numbers)')
    return f'{key}={text}'


def cfg_option_args(options: dict, where: str = '') -> List[str]:
    if not options:
        return []
    return ['--cfg-options'] + [format_option(k, v, where) for k, v in options.items()]


def _short_path(path: str) -> str:
    """Relative to the current directory when inside it: shorter recorded commands."""
    rel = osp.relpath(path)
    return path if rel.startswith('..') else rel


def train_command(python: str, tools_dir: str, run: Run, options: dict,
                  resume: bool = False) -> List[str]:
    cmd = [python, _short_path(osp.join(tools_dir, 'train.py')), run.config,
           '--work-dir', run.work_dir]
    if resume:
        cmd.append('--resume')
    seed = {} if run.seed is None else {'randomness.seed': run.seed}
    return cmd + cfg_option_args({**seed, **options}, run.label)


def eval_command(python: str, tools_dir: str, run: Run, options: dict,
                 checkpoint: str) -> List[str]:
    return [python, _short_path(osp.join(tools_dir, 'test.py')), run.config, checkpoint,
            '--work-dir', run.work_dir] + cfg_option_args(options, run.label)


def parse_metrics(text: str) -> Optional[dict]:
    """The last JSON object line of tools/test.py's output (anything after it on
    the line, e.g. an interleaved warning, is ignored)."""
    decoder = json.JSONDecoder()
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith('{'):
            try:
                value, _ = decoder.raw_decode(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                return value
    return None


def split_ann_file(config: str, options: dict) -> Optional[str]:
    """The annotation file ``test_dataloader`` reads with ``options``, resolved
    against its data root the way pmu's datasets do; None when not a plain file path."""
    from pmu.utils import find_data_root
    cfg = Config.fromfile(config, import_custom_modules=False)
    cfg.merge_from_dict(options)
    dataset = (cfg.get('test_dataloader') or {}).get('dataset') or {}
    ann_file = dataset.get('ann_file')
    if not isinstance(ann_file, str):
        return None
    if osp.isabs(ann_file):
        return ann_file
    try:
        return osp.join(find_data_root(dataset.get('data_root')), ann_file)
    except FileNotFoundError:
        return ann_file


def read_json(path: str) -> Optional[dict]:
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except (FileNotFoundError, ValueError):
        return None


def write_json(path: str, data) -> None:
    """Write-then-rename, so a killed study never leaves half a file."""
    tmp = f'{path}.tmp{os.getpid()}.{threading.get_ident()}'
    with open(tmp, 'w', encoding='utf-8') as f:
        json.dump(data, f, indent=2)
        f.write('\n')
    os.replace(tmp, path)


def _write_text(path: str, text: str) -> None:
    tmp = f'{path}.tmp{os.getpid()}.{threading.get_ident()}'
    with open(tmp, 'w', encoding='utf-8') as f:
        f.write(text)
    os.replace(tmp, path)


def read_result(run: Run) -> Optional[dict]:
    return read_json(osp.join(run.work_dir, RESULT_FILE))


def run_state(run: Run) -> str:
    """What the next invocation does: 'skip' (finished), 'test' (trained, not
    evaluated), 'resume' (killed mid-training), 'train' (nothing yet).
    A failed run is tried again."""
    if not run.is_step:
        result = read_result(run)
        if result is not None and result.get('status') == 'ok':
            return 'skip'
    if read_json(osp.join(run.work_dir, TRAIN_DONE_FILE)) is not None:
        return 'skip' if run.is_step else 'test'
    return 'resume' if osp.isfile(osp.join(run.work_dir, 'last_checkpoint')) else 'train'


def format_seconds(seconds: Optional[float]) -> str:
    if seconds is None:
        return '?'
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f'{h}h{m:02d}m' if h else f'{m}m{s:02d}s' if m else f'{s}s'


def log_tail(path: str, chars: int = 3000) -> str:
    try:
        with open(path, encoding='utf-8', errors='replace') as f:
            return f.read()[-chars:]
    except FileNotFoundError:
        return ''


class RunFailed(RuntimeError):
    """A subprocess of a run failed; the message says which and where the log is."""


# --------------------------------------------------------------------------- runner

class StudyRunner:
    """Runs a study's before steps (in order, one at a time), then its runs on a
    pool of ``workers`` subprocess slots; rewrites the summary after each run."""

    def __init__(self, study: Study, workers: int = 1, gpus: Optional[Sequence[str]] = None,
                 python: Optional[str] = None, tools_dir: Optional[str] = None,
                 printer: Callable[[str], None] = None, reevaluate: bool = False):
        if workers < 1:
            raise ValueError(f'--workers must be >= 1, got {workers}')
        self.study = study
        self.workers = workers
        # evaluate finished runs again with the current code (decoding, metrics); training is kept
        self.reevaluate = reevaluate
        self.gpus = [str(g) for g in gpus] if gpus else []
        python = python or sys.executable
        # a path inside the current directory is recorded relative: shorter commands
        self.python = _short_path(python) if osp.sep in python else python
        self.tools_dir = tools_dir or DEFAULT_TOOLS_DIR
        for tool in ('train.py', 'test.py'):
            if not osp.isfile(osp.join(self.tools_dir, tool)):
                raise ValueError(f'{self.tools_dir} has no {tool} (tools_dir)')
        self._print = printer or (lambda line: print(line, flush=True))
        self._lock = threading.Lock()
        self._started = 0
        self._total = 0
        self.failures: List[str] = []  # labels of the runs and steps that failed this time
        self._t0 = time.time()

    # ---- helpers
    def say(self, line: str) -> None:
        with self._lock:
            self._print(f'[study] {line}')

    def _next_index(self) -> str:
        with self._lock:
            self._started += 1
            return f'[{self._started}/{self._total}]'

    def env(self, slot: int, concurrent: int) -> dict:
        """OMP threads split over concurrent runs unless set; GPUs round-robin by slot."""
        env = dict(os.environ)
        if 'OMP_NUM_THREADS' not in os.environ:
            cores = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') \
                else (os.cpu_count() or 1)
            env['OMP_NUM_THREADS'] = str(max(1, cores // concurrent))
        if self.gpus:
            env['CUDA_VISIBLE_DEVICES'] = self.gpus[slot % len(self.gpus)]
        return env

    @staticmethod
    def _call(cmd: List[str], env: dict, log_path: str, phase: str):
        """Run one command, stdout and stderr appended to the run's log; returns
        (exit code, seconds, what it printed)."""
        with open(log_path, 'a', encoding='utf-8') as log:
            log.write(f'\n===== {phase} ({datetime.now():%Y-%m-%d %H:%M:%S}): '
                      f'{shlex.join(cmd)}\n')
            log.flush()
            start_offset = log.tell()
            t0 = time.time()
            rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env).returncode
            seconds = time.time() - t0
        with open(log_path, encoding='utf-8', errors='replace') as f:
            f.seek(start_offset)
            return rc, seconds, f.read()

    def _train(self, run: Run, env: dict, result: dict) -> None:
        """Train unless a previous invocation finished; resume a killed training."""
        done_path = osp.join(run.work_dir, TRAIN_DONE_FILE)
        done = read_json(done_path)
        if done is None:
            resume = osp.isfile(osp.join(run.work_dir, 'last_checkpoint'))
            options = {k: substitute(v, self.study) for k, v in run.options.items()}
            # the command without --resume is the one that reproduces the run
            command = shlex.join(train_command(self.python, self.tools_dir, run, options))
            result['commands']['train'] = command
            cmd = train_command(self.python, self.tools_dir, run, options, resume)
            rc, seconds, out = self._call(cmd, env, osp.join(run.work_dir, LOG_FILE),
                                          'train (resumed)' if resume else 'train')
            if rc != 0:
                raise RunFailed(f'tools/train.py exited with {rc} after '
                                f'{format_seconds(seconds)}{_last_line(out)}')
            done = dict(command=command, wall_time_s=round(seconds, 1), resumed=resume,
                        finished=datetime.now().isoformat(timespec='seconds'))
            write_json(done_path, done)
        result['commands']['train'] = done['command']
        result['wall_time_s']['train'] = done['wall_time_s']

    def _evaluate(self, run: Run, options: dict, checkpoint: str, env: dict, phase: str,
                  result: dict):
        cmd = eval_command(self.python, self.tools_dir, run, options, checkpoint)
        result['commands'][phase] = shlex.join(cmd)
        rc, seconds, out = self._call(cmd, env, osp.join(run.work_dir, LOG_FILE), phase)
        if rc != 0:
            raise RunFailed(f'tools/test.py ({phase}) exited with {rc}{_last_line(out)}')
        metrics = parse_metrics(out)
        if metrics is None:
            raise RunFailed(f'tools/test.py ({phase}) printed no JSON line of metrics')
        return metrics, round(seconds, 1)

    def execute(self, run: Run, slot: int = 0, concurrent: int = 1) -> dict:
        """Train (or resume) and evaluate one run; always leaves a result.json for
        a row run (status 'ok' or 'failed'), and never raises for a run's failure."""
        os.makedirs(run.work_dir, exist_ok=True)
        env = self.env(slot, concurrent)
        log_path = osp.join(run.work_dir, LOG_FILE)
        result = dict(row=run.name, seed=run.seed, config=run.config, work_dir=run.work_dir,
                      status='failed', metrics={}, commands={}, wall_time_s={},
                      log=log_path, env={k: env[k] for k in ('OMP_NUM_THREADS',
                                                            'CUDA_VISIBLE_DEVICES') if k in env})
        t0 = time.time()
        previous = read_result(run) if self.reevaluate and not run.is_step else None
        if previous is not None and previous.get('status') == 'ok':
            # what the run's evaluation gave before this one, kept beside the new figures
            result['previous'] = {k: previous.get(k) for k in ('metrics', 'finished', 'commands')}
        try:
            self._train(run, env, result)
            if not run.is_step:
                self._test_all(run, env, result)
            result['status'] = 'ok'
        except Exception as e:  # noqa: BLE001 -- one failed run must not stop the study
            result['error'] = f'{type(e).__name__}: {e}' if not isinstance(e, RunFailed) \
                else str(e)
            result['log_tail'] = log_tail(log_path)
        if result['status'] != 'ok':
            with self._lock:
                self.failures.append(run.label)
        result['wall_time_s']['total'] = round(time.time() - t0, 1)
        result['finished'] = datetime.now().isoformat(timespec='seconds')
        if not run.is_step:
            write_json(osp.join(run.work_dir, RESULT_FILE), result)
        return result

    def _test_all(self, run: Run, env: dict, result: dict) -> None:
        checkpoint = best_checkpoint(run.work_dir)
        if checkpoint is None:
            raise RunFailed(f'{run.work_dir} holds no best_*.pth and no last_checkpoint')
        result['checkpoint'] = checkpoint
        options = {k: substitute(v, self.study) for k, v in run.options.items()}
        metrics, seconds = self._evaluate(run, options, checkpoint, env, 'val', result)
        result['metrics']['val'] = metrics
        result['wall_time_s']['val'] = seconds
        if run.test_options is None:
            result['test_split'] = 'not configured (test_options)'
            return
        test_options = {**options,
                        **{k: substitute(v, self.study) for k, v in run.test_options.items()}}
        ann_file = split_ann_file(run.config, test_options)
        if ann_file is not None and not osp.isfile(ann_file):
            result['test_split'] = f'not available: {ann_file} does not exist'
            return
        metrics, seconds = self._evaluate(run, test_options, checkpoint, env, 'test', result)
        result['metrics']['test'] = metrics
        result['wall_time_s']['test'] = seconds
        result['test_split'] = ann_file or 'evaluated'

    # ---- the study
    def dry_run(self, only: Optional[Sequence[str]] = None) -> List[str]:
        """The commands each run would execute next, without running anything."""
        lines = []
        for run in expand_steps(self.study, only) + expand_runs(self.study, only):
            state = run_state(run)
            options = {k: substitute(v, self.study, dry_run=True) for k, v in run.options.items()}
            lines.append(f'# {run.label}: {state} ({run.work_dir})')
            if state in ('train', 'resume'):
                lines.append(shlex.join(train_command(self.python, self.tools_dir, run, options,
                                                      resume=state == 'resume')))
            if not run.is_step and state != 'skip':
                ckpt = best_checkpoint(run.work_dir) or f'{run.work_dir}/best_*.pth'
                lines.append(shlex.join(eval_command(self.python, self.tools_dir, run, options,
                                                     ckpt)))
                if run.test_options is not None:
                    test_opts = {**options, **{k: substitute(v, self.study, dry_run=True)
                                               for k, v in run.test_options.items()}}
                    lines.append(shlex.join(eval_command(self.python, self.tools_dir, run,
                                                         test_opts, ckpt))
                                 + '  # test split, if its file exists')
        for line in lines:
            self._print(line)
        return lines

    def run(self, only: Optional[Sequence[str]] = None) -> dict:
        """Before steps, then every selected run; returns the summary (study.json)."""
        check_only(self.study, only)
        steps = expand_steps(self.study, only)
        runs = expand_runs(self.study, only)
        os.makedirs(self.study.work_dir, exist_ok=True)
        self._total = len(steps) + len(runs)
        self.say(f'{self.study.path}: {len(steps)} before step(s), {len(runs)} run(s), '
                 f'{self.workers} worker(s){", GPUs " + ",".join(self.gpus) if self.gpus else ""}'
                 f'; work dir {self.study.work_dir}')
        for step in steps:
            if not self._run_step(step):
                self.say(f'before step {step.name} failed; the rows need it, stopping. '
                         f'Log: {osp.join(step.work_dir, LOG_FILE)}')
                return write_summary(self.study)
        todo = []
        for run in runs:
            if run_state(run) == 'skip' and not self.reevaluate:
                result = read_result(run)
                self.say(f'{self._next_index()} {run.label}: finished before, skipped'
                         f'{_metric_note(result, self.study.metric)}')
            else:
                todo.append(run)
        if todo:
            self._pool(todo)
        summary = write_summary(self.study)
        self.say(f'done in {format_seconds(time.time() - self._t0)}: '
                 f'{osp.join(self.study.work_dir, "study.md")}')
        return summary

    def _run_step(self, step: Run) -> bool:
        state = run_state(step)
        index = self._next_index()
        if state == 'skip':
            self.say(f'{index} before step {step.name}: trained before, skipped')
            return True
        self.say(f'{index} before step {step.name}: {_verb(state)}')
        result = self.execute(step, slot=0, concurrent=1)
        ok = result['status'] == 'ok'
        self.say(f'{index} before step {step.name}: {"done" if ok else "FAILED"} in '
                 f'{format_seconds(result["wall_time_s"]["total"])}'
                 + ('' if ok else f' ({result.get("error")})'))
        return ok

    def _pool(self, runs: List[Run]) -> None:
        workers = min(self.workers, len(runs))
        slots = queue.Queue()
        for slot in range(workers):
            slots.put(slot)

        def task(run: Run):
            slot = slots.get()
            try:
                index = self._next_index()
                gpu = f' on GPU {self.gpus[slot % len(self.gpus)]}' if self.gpus else ''
                state = run_state(run)
                verb = 'trained and evaluated before, evaluating again' if state == 'skip' else _verb(state)
                self.say(f'{index} {run.label}: {verb}{gpu}')
                result = self.execute(run, slot, workers)
                with self._lock:
                    write_summary(self.study)
                elapsed = format_seconds(time.time() - self._t0)
                if result['status'] == 'ok':
                    self.say(f'{index} {run.label}: done in '
                             f'{format_seconds(result["wall_time_s"]["total"])}'
                             f'{_metric_note(result, self.study.metric)} (study: {elapsed})')
                else:
                    self.say(f'{index} {run.label}: FAILED after '
                             f'{format_seconds(result["wall_time_s"]["total"])}: '
                             f'{result.get("error")}; log {result["log"]} (study: {elapsed})')
            finally:
                slots.put(slot)

        pool = ThreadPoolExecutor(max_workers=workers)
        try:
            for future in [pool.submit(task, run) for run in runs]:
                future.result()
        except KeyboardInterrupt:
            self.say('interrupted: running trainings stop with it; run the study again to '
                     'resume them')
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()


def _last_line(output: str) -> str:
    """': <the last non-empty line>' of a failed command's output (the exception, usually)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return f': {lines[-1][:300]}' if lines else ''


def _verb(state: str) -> str:
    return {'train': 'training', 'resume': 'resuming the killed training',
            'test': 'trained before, evaluating'}.get(state, state)


def _metric_note(result: Optional[dict], metric: str) -> str:
    value = ((result or {}).get('metrics') or {}).get('val', {}).get(metric)
    if value is None:
        return ''
    return f', {metric}={_num(value)}'


# --------------------------------------------------------------------------- summary

def aggregate(values: Sequence[float]) -> dict:
    """n, mean and sample std (ddof=1; 0 for one value) of finished runs."""
    values = [float(v) for v in values]
    if not values:
        return dict(n=0, mean=None, std=None)
    return dict(n=len(values), mean=statistics.mean(values),
                std=statistics.stdev(values) if len(values) > 1 else 0.0)


def collect_results(study: Study) -> Dict[str, List[dict]]:
    """Per row, one entry per seed: its result.json, or a 'pending' placeholder."""
    results = {}
    for row in study.rows:
        entries = []
        for run in expand_runs(study, [row.name]):
            entries.append(read_result(run) or dict(
                row=row.name, seed=run.seed, status='pending', metrics={}, commands={},
                work_dir=run.work_dir))
        results[row.name] = entries
    return results


def collect_steps(study: Study) -> List[dict]:
    steps = []
    for step in expand_steps(study):
        done = read_json(osp.join(step.work_dir, TRAIN_DONE_FILE))
        steps.append(dict(name=step.name, config=step.config, work_dir=step.work_dir,
                          status='ok' if done else 'pending',
                          command=(done or {}).get('command'),
                          wall_time_s=(done or {}).get('wall_time_s'),
                          checkpoint=last_checkpoint(step.work_dir)))
    return steps


def build_summary(study: Study, results: Dict[str, List[dict]],
                  steps: Optional[List[dict]] = None) -> dict:
    """study.json's content: every run, and per row and metric n/mean/std/Δ."""
    rows = []
    for row in study.rows:
        entries = results.get(row.name, [])
        keys = [study.metric] + [m for m in study.metrics + row.metrics if m != study.metric]
        per_split = {}
        for split in SPLITS:
            per_key = {}
            for key in keys:
                values = {str(r['seed']): r['metrics'][split][key] for r in entries
                          if r.get('status') == 'ok' and key in r['metrics'].get(split, {})}
                if values:
                    per_key[key] = dict(aggregate(list(values.values())), values=values)
            if per_key:
                per_split[split] = per_key
        main = per_split.get('val', {}).get(study.metric, aggregate([]))
        rows.append(dict(
            name=row.name, config=row.config, seeds=row.seeds,
            n=main['n'], mean=main['mean'], std=main['std'], delta=None,
            n_ok=sum(r.get('status') == 'ok' for r in entries),
            n_failed=sum(r.get('status') == 'failed' for r in entries),
            n_pending=sum(r.get('status') == 'pending' for r in entries),
            seed_status={str(r['seed']): r.get('status') for r in entries},
            metrics=per_split))
    ref = next((r for r in rows if r['name'] == study.reference), None)
    for row in rows:
        for split, per_key in row['metrics'].items():
            for key, stats in per_key.items():
                ref_stats = ((ref or {}).get('metrics') or {}).get(split, {}).get(key)
                stats['delta'] = (stats['mean'] - ref_stats['mean']) if ref_stats else None
        main = row['metrics'].get('val', {}).get(study.metric)
        row['delta'] = main['delta'] if main else None
    runs = [dict(r) for entries in results.values() for r in entries]
    return dict(study=study.path, work_dir=study.work_dir, metric=study.metric,
                reference=study.reference,
                updated=datetime.now().isoformat(timespec='seconds'),
                counts=dict(total=len(runs), ok=sum(r.get('status') == 'ok' for r in runs),
                            failed=sum(r.get('status') == 'failed' for r in runs),
                            pending=sum(r.get('status') == 'pending' for r in runs)),
                rows=rows, before=steps or [], runs=runs)


def _num(value) -> str:
    return '—' if value is None else f'{value:.2f}'


def _delta(stats: Optional[dict], is_reference: bool) -> str:
    if is_reference:
        return 'ref.'
    if not stats or stats.get('delta') is None:
        return '—'
    return f'{stats["delta"]:+.2f}'


def _mean_std(stats: Optional[dict]) -> str:
    if not stats or stats.get('mean') is None:
        return '—'
    return f'{stats["mean"]:.2f} ± {stats["std"]:.2f}'


def _per_seed(row: dict, split: str, key: str) -> str:
    values = row['metrics'].get(split, {}).get(key, {}).get('values', {})
    cells = []
    for seed in row['seeds']:
        status = row['seed_status'].get(str(seed), 'pending')
        if str(seed) in values:
            cells.append(f'{seed}: {values[str(seed)]:.2f}')
        elif status == 'ok':
            cells.append(f'{seed}: n/a')  # finished, but the metric key was not printed
        else:
            cells.append(f'{seed}: **{status}**' if status == 'failed' else f'{seed}: {status}')
    return ', '.join(cells)


def render_markdown(summary: dict) -> str:
    """study.md: the table, other metrics, then every run's commands."""
    metric, reference = summary['metric'], summary['reference']
    rows = summary['rows']
    has_test = any('test' in r['metrics'] for r in rows)
    counts = summary['counts']
    lines = [f'# Study `{osp.splitext(osp.basename(summary["study"]))[0]}`', '',
             f'Study config `{summary["study"]}`, work dir `{summary["work_dir"]}`. '
             f'`{metric}` on the validation split{" and the test split" if has_test else ""}: '
             'mean ± sample standard deviation over the finished seeds (n); '
             + (f'Δ = row mean − mean of the reference row `{reference}`. ' if reference else '')
             + f'{counts["ok"]}/{counts["total"]} runs finished, {counts["failed"]} failed, '
             f'{counts["pending"]} pending (updated {summary["updated"]}).', '']
    ref_col = f'Δ vs {reference}' if reference else 'Δ'
    header = ['row', 'n', f'{metric} (val)', ref_col]
    if has_test:
        header += [f'{metric} (test)', f'{ref_col} (test)']
    header.append('per seed (val)')
    lines += ['| ' + ' | '.join(header) + ' |',
              '| ' + ' | '.join(['---'] + ['---:'] * (len(header) - 2) + ['---']) + ' |']
    for row in rows:
        is_ref = row['name'] == reference
        val = row['metrics'].get('val', {}).get(metric)
        cells = [f'`{row["name"]}`', str(row['n']), _mean_std(val), _delta(val, is_ref)]
        if has_test:
            test = row['metrics'].get('test', {}).get(metric)
            cells += [_mean_std(test), _delta(test, is_ref and test is not None)]
        cells.append(_per_seed(row, 'val', metric))
        lines.append('| ' + ' | '.join(cells) + ' |')

    extra = [(row, split, key, stats) for row in rows
             for split, per_key in row['metrics'].items()
             for key, stats in per_key.items() if key != metric]
    if extra:
        lines += ['', '## Other metrics', '',
                  f'| row | split | metric | n | mean ± std | {ref_col} |',
                  '| --- | --- | --- | ---: | ---: | ---: |']
        for row, split, key, stats in extra:
            lines.append(f'| `{row["name"]}` | {split} | `{key}` | {stats["n"]} | '
                         f'{_mean_std(stats)} | {_delta(stats, row["name"] == reference)} |')

    failed = [r for r in summary['runs'] if r.get('status') == 'failed']
    if failed:
        lines += ['', '## Failed runs', '']
        lines += [f'- `{r["row"]}` seed {r["seed"]}: {r.get("error", "?")} (log `{r.get("log")}`)'
                  for r in failed]

    lines += ['', '## Commands', '',
              'Run from the directory the study ran in; each run\'s output is in its '
              '`run.log`.', '']
    for step in summary.get('before') or []:
        lines += [f'### before step `{step["name"]}`: {step["status"]}'
                  + (f', {format_seconds(step["wall_time_s"])}' if step.get('wall_time_s')
                     else ''), '']
        if step.get('command'):
            lines += ['```bash', step['command'], '```', '']
    for r in summary['runs']:
        wall = (r.get('wall_time_s') or {}).get('total')
        title = f'### `{r["row"]}` seed {r["seed"]}: {r.get("status")}'
        if wall is not None:
            title += f', {format_seconds(wall)}'
        if r.get('env'):
            title += ' (' + ', '.join(f'{k}={v}' for k, v in r['env'].items()) + ')'
        lines += [title, '']
        commands = [c for c in (r.get('commands') or {}).values() if c]
        if commands:
            lines += ['```bash'] + commands + ['```', '']
        elif r.get('status') == 'pending':
            lines += ['not run yet', '']
        if r.get('test_split') and 'test' not in (r.get('metrics') or {}):
            lines += [f'test split: {r["test_split"]}', '']
    return '\n'.join(lines).rstrip() + '\n'


def write_summary(study: Study) -> dict:
    """Rebuild WORK_DIR/study.json and study.md from the runs' result.json files."""
    summary = build_summary(study, collect_results(study), collect_steps(study))
    os.makedirs(study.work_dir, exist_ok=True)
    write_json(osp.join(study.work_dir, 'study.json'), summary)
    _write_text(osp.join(study.work_dir, 'study.md'), render_markdown(summary))
    return summary
