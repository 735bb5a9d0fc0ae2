"""Running a study: before steps in order, then the runs, in this process or on a pool of subprocess slots."""
import json
import os
import os.path as osp
import queue
import shlex
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Callable, Iterable, List, Optional, Sequence, Tuple, Union

from .in_process import failure_text, isolated_run
from .plan import (
    LOG_FILE,
    RESULT_FILE,
    TRAIN_DONE_FILE,
    Run,
    Study,
    best_checkpoint,
    check_only,
    check_seeds,
    eval_command,
    expand_runs,
    expand_steps,
    short_path,
    substitute,
    train_command,
    train_options,
)
from .records import (
    format_seconds,
    log_tail,
    measured_data,
    parse_metrics,
    read_json,
    read_result,
    run_state,
    split_ann_file,
    write_json,
)
from .summary import format_number, write_summary

_PMU_DIR = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEFAULT_TOOLS_DIR = osp.join(osp.dirname(_PMU_DIR), 'tools')
# where pmu's own tools/train.py and tools/test.py are: a checkout's tools/, an installed package's .mim/tools/
OWN_TOOLS_DIRS = (DEFAULT_TOOLS_DIR, osp.join(_PMU_DIR, '.mim', 'tools'))


class RunFailed(RuntimeError):
    """A command of a run failed; the message says which and where the log is."""


def is_this_interpreter(python: str) -> bool:
    """Whether ``python`` (a path, or a name on ``PATH``) is the interpreter running this process."""
    found = shutil.which(python) if osp.sep not in python else python
    return found is not None and osp.abspath(found) == osp.abspath(sys.executable)


def is_own_tools(tools_dir: str) -> bool:
    """Whether ``tools_dir`` holds pmu's own tools (the commands :mod:`pmu.apis.runs` stands for)."""
    return any(osp.realpath(tools_dir) == osp.realpath(d) for d in OWN_TOOLS_DIRS)


class _PhaseLog:
    """One phase of a run in its log: on entry the ``===== phase (time): command`` header is appended
    and ``file`` is the log, open for appending; on a normal exit ``seconds`` is how long the phase took
    and ``output`` what was written to the log after the header."""

    def __init__(self, log_path: str, phase: str, cmd: List[str]):
        self.log_path, self.phase, self.cmd = log_path, phase, cmd
        self.file = None
        self.seconds, self.output = 0.0, ''

    def __enter__(self) -> '_PhaseLog':
        self.file = open(self.log_path, 'a', encoding='utf-8', buffering=1)
        self.file.write(f'\n===== {self.phase} ({datetime.now():%Y-%m-%d %H:%M:%S}): {shlex.join(self.cmd)}\n')
        self.file.flush()
        self._start_offset = self.file.tell()
        self._t0 = time.time()
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        self.seconds = time.time() - self._t0
        self.file.close()
        if exc_type is None:
            with open(self.log_path, encoding='utf-8', errors='replace') as f:
                f.seek(self._start_offset)
                self.output = f.read()
        return False


class StudyRunner:
    """Runs a study's before steps (in order, one at a time), then its runs on
    ``workers`` slots; rewrites the summary after each run.

    Each run is ``tools/train.py`` then ``tools/test.py``. Where it can (one worker, no ``gpus``,
    this interpreter as ``python``, pmu's own tools), the runner calls :func:`pmu.apis.runs.train`
    and :func:`pmu.apis.runs.test` in this process, one run after the other, each kept apart as a
    process of its own would be (:func:`.in_process.isolated_run`); otherwise, or with
    ``in_process=False``, it runs the commands as subprocesses. Either way the log, the records and
    the recorded commands are the same.
    """

    def __init__(self, study: Study, workers: int = 1, gpus: Optional[Sequence[str]] = None,
                 python: Optional[str] = None, tools_dir: Optional[str] = None,
                 printer: Callable[[str], None] = None, reevaluate: bool = False,
                 in_process: Optional[bool] = None):
        if workers < 1:
            raise ValueError(f'--workers must be >= 1, got {workers}')
        self.study = study
        self.workers = workers
        # evaluate finished runs again with the current code (decoding, metrics); training is kept
        self.reevaluate = reevaluate
        self.gpus = [str(g) for g in gpus] if gpus else []
        possible = (workers == 1 and not self.gpus and (python is None or is_this_interpreter(python))
                    and (tools_dir is None or is_own_tools(tools_dir)))
        if in_process and not possible:
            raise ValueError('runs in this process need one worker, no GPU list, this interpreter as python '
                             "and pmu's own tools")
        # None: in this process where it can be
        self.in_process = possible if in_process is None else bool(in_process)
        python = python or sys.executable
        # a path inside the current directory is recorded relative: shorter commands
        self.python = short_path(python) if osp.sep in python else python
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
        with _PhaseLog(log_path, phase, cmd) as phase_log:
            rc = subprocess.run(cmd, stdout=phase_log.file, stderr=subprocess.STDOUT, env=env).returncode
        return rc, phase_log.seconds, phase_log.output

    @staticmethod
    def _call_in_process(func: Callable, cmd: List[str], env: dict, log_path: str, phase: str, prog: str,
                         extra: Iterable[Union[type, str]] = ()) -> Tuple[bool, object, float, str]:
        """Call ``func`` here in place of the command ``cmd``, its output appended to the run's log
        (:func:`.in_process.isolated_run`, ``OMP_NUM_THREADS`` of ``env`` as its threads); returns
        (whether it succeeded, what it returned, seconds, what it printed). A failure is written to the
        log as the command would have printed it (:func:`.in_process.failure_text`)."""
        ok, value = False, None
        with _PhaseLog(log_path, phase, cmd) as phase_log, isolated_run(phase_log.file, threads=_threads(env)):
            try:
                value, ok = func(), True
            except (Exception, SystemExit) as e:  # noqa: BLE001 -- the run's failure, recorded
                print(failure_text(prog, e, extra), file=sys.stderr, flush=True)
            except KeyboardInterrupt as e:  # Ctrl-C, SIGTERM: the study stops; the run resumes next time
                print(f'{prog}: interrupted{f" by {e}" if str(e) else ""}', file=sys.stderr, flush=True)
                raise
        return ok, value, phase_log.seconds, phase_log.output

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
            log_path, phase = osp.join(run.work_dir, LOG_FILE), 'train (resumed)' if resume else 'train'
            if self.in_process:
                from pmu.apis import runs
                ok, _, seconds, out = self._call_in_process(
                    lambda: runs.train(run.config, work_dir=run.work_dir, cfg_options=train_options(run, options),
                                       resume='auto' if resume else None),
                    cmd, env, log_path, phase, 'tools/train.py', runs.TRAIN_ERRORS)
                if not ok:
                    raise RunFailed(f'tools/train.py failed after {format_seconds(seconds)}{_last_line(out)}')
            else:
                rc, seconds, out = self._call(cmd, env, log_path, phase)
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
        log_path = osp.join(run.work_dir, LOG_FILE)
        if self.in_process:
            from pmu.apis import runs

            def evaluate():
                metrics = runs.test(run.config, checkpoint, work_dir=run.work_dir, cfg_options=options)
                print(json.dumps(metrics))  # the line tools/test.py ends with
                return json.loads(json.dumps(metrics))  # the values a reader of that line gets

            ok, metrics, seconds, out = self._call_in_process(evaluate, cmd, env, log_path, phase,
                                                              'tools/test.py')
            if not ok:
                raise RunFailed(f'tools/test.py ({phase}) failed{_last_line(out)}')
            return metrics, round(seconds, 1)
        rc, seconds, out = self._call(cmd, env, log_path, phase)
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
                                                            'CUDA_VISIBLE_DEVICES') if k in env},
                      mode='in-process' if self.in_process else 'subprocess')
        t0 = time.time()
        previous = read_result(run) if self.reevaluate and not run.is_step else None
        if previous is not None and previous.get('status') == 'ok':
            # what the run's evaluation gave before this one, kept beside the new figures
            result['previous'] = {k: previous.get(k) for k in ('metrics', 'finished', 'commands')}
        try:
            self._train(run, env, result)
            if not run.is_step:
                result['data'] = measured_data(run)
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
    def dry_run(self, only: Optional[Sequence[str]] = None, seeds: Optional[Sequence[int]] = None) -> List[str]:
        """The commands each run would execute next, without running anything."""
        check_seeds(self.study, only, seeds)
        lines = []
        for run in expand_steps(self.study, only) + expand_runs(self.study, only, seeds):
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

    def run(self, only: Optional[Sequence[str]] = None, seeds: Optional[Sequence[int]] = None) -> dict:
        """Before steps, then every selected run (``only``: rows and steps, ``seeds``: seeds); returns
        the summary (study.json), which covers the whole study."""
        check_only(self.study, only)
        check_seeds(self.study, only, seeds)
        steps = expand_steps(self.study, only)
        runs = expand_runs(self.study, only, seeds)
        os.makedirs(self.study.work_dir, exist_ok=True)
        self._total = len(steps) + len(runs)
        self.say(f'{self.study.path}: {len(steps)} before step(s), {len(runs)} run(s), '
                 f'{self.workers} worker(s){", GPUs " + ",".join(self.gpus) if self.gpus else ""}'
                 f'{", in this process" if self.in_process else ""}; work dir {self.study.work_dir}')
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

        if self.in_process:  # one after the other, in the main thread: Ctrl-C and SIGTERM stop the run
            try:
                for run in runs:
                    task(run)
            except KeyboardInterrupt:
                self.say('interrupted: the running training stops with it; run the study again to resume it')
                raise
            return
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


def _threads(env: dict) -> Optional[int]:
    """``OMP_NUM_THREADS`` of ``env`` as a number of threads, if it is one."""
    value = env.get('OMP_NUM_THREADS', '')
    return int(value) if value.strip().isdigit() and int(value) > 0 else None


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
    return f', {metric}={format_number(value)}'
