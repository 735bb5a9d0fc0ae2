"""A run in the study's own process, kept apart as a process of its own would be: its output in the
run's log, its number of threads, and MMEngine's global instances it made gone when it ends."""
import contextlib
import gc
import logging
import os
import signal
import sys
import threading
import traceback
import warnings
from typing import Dict, Iterable, Optional, Set, TextIO, Union


class LogStream:
    """``sys.stdout`` / ``sys.stderr`` while a run lasts: what is written goes to the run's log.

    A handler made during the run (MMEngine's console handler, transformers' one) keeps this object
    as its stream; once the run is over (:meth:`release`), it writes to the ``sys`` stream of the
    moment instead of a closed log.
    """

    def __init__(self, name: str, log: TextIO):
        self._name = name
        self._log: Optional[TextIO] = log

    def _target(self):
        if self._log is not None:
            return self._log
        current = getattr(sys, self._name)
        return getattr(sys, f'__{self._name}__') if current is self else current

    def release(self) -> None:
        self.flush()
        self._log = None

    def write(self, text: str) -> int:
        return self._target().write(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        with contextlib.suppress(ValueError, OSError):
            self._target().flush()

    def isatty(self) -> bool:  # a log file: progress as log lines, no bars
        return False if self._log is not None else self._target().isatty()

    def __getattr__(self, name):  # encoding, fileno, buffer, ...
        if name.startswith('_'):
            raise AttributeError(name)
        return getattr(self._target(), name)


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """A warning as Python prints it, on the ``sys.stderr`` of the moment (the run's log)."""
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def _stop_on_sigterm(signum, frame):
    """SIGTERM stops the run as Ctrl-C does: the checkpoint being written is left out whole and the
    work dir's lock released."""
    raise KeyboardInterrupt(f'signal {signum}')


def _manager_classes() -> list:
    from mmengine.utils import ManagerMixin
    classes, todo = [ManagerMixin], [ManagerMixin]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in classes:
                classes.append(sub)
                todo.append(sub)
    return classes


def _instances() -> Dict[type, Set[str]]:
    """The names of MMEngine's global instances (loggers, message hubs, visualizers, scopes), by class."""
    return {cls: set(cls.__dict__.get('_instance_dict', {})) for cls in _manager_classes()}


def _drop_new_instances(before: Dict[type, Set[str]]) -> None:
    """Forget the global instances made since ``before``, closing their log files and visualizer backends:
    the next run gets its own, even under the same experiment name."""
    for cls in _manager_classes():
        instances = cls.__dict__.get('_instance_dict')
        if not instances:
            continue
        for name in [n for n in instances if n not in before.get(cls, ())]:
            instance = instances.pop(name)
            if isinstance(instance, logging.Logger):
                for handler in list(instance.handlers):
                    instance.removeHandler(handler)
                    with contextlib.suppress(Exception):
                        handler.close()
            elif callable(getattr(instance, 'close', None)):
                with contextlib.suppress(Exception):
                    instance.close()


def _redirect_fd(fd: int, target: int) -> Optional[int]:
    """Point file descriptor ``fd`` at ``target`` (output of C code, of child processes); returns a copy
    of the old one to restore, None where ``fd`` is not open."""
    try:
        saved = os.dup(fd)
    except OSError:
        return None
    os.dup2(target, fd)
    return saved


@contextlib.contextmanager
def isolated_run(log: TextIO, threads: Optional[int] = None):
    """Run the body as if in a process of its own whose output goes to ``log`` (a file open for appending).

    While it lasts, ``sys.stdout`` and ``sys.stderr`` are :class:`LogStream` objects on ``log`` and the
    file descriptors 1 and 2 point at it (C code, child processes); ``threads`` sets
    ``torch.set_num_threads`` and ``OMP_NUM_THREADS``; warnings are printed to the log (filters the
    body sets are taken back); in the main thread, SIGTERM raises :class:`KeyboardInterrupt`.
    Afterwards everything is as it was, and the instances the body made of MMEngine's global classes
    (``MMLogger``, ``MessageHub``, ``Visualizer``, ``DefaultScope``, keyed by experiment name) are
    closed and forgotten.
    """
    import torch
    before = _instances()
    cudnn = torch.backends.cudnn
    saved_torch = (torch.get_num_threads(), cudnn.benchmark, cudnn.deterministic,
                   torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
    saved_omp = os.environ.get('OMP_NUM_THREADS')
    saved_streams = sys.stdout, sys.stderr
    main_thread = threading.current_thread() is threading.main_thread()
    saved_sigterm = signal.getsignal(signal.SIGTERM) if main_thread else None
    saved_fds: Dict[int, Optional[int]] = {}
    streams = LogStream('stdout', log), LogStream('stderr', log)
    try:
        if main_thread:
            signal.signal(signal.SIGTERM, _stop_on_sigterm)
        for stream in saved_streams:
            with contextlib.suppress(Exception):
                stream.flush()
        log.flush()
        for fd in (1, 2):
            saved_fds[fd] = _redirect_fd(fd, log.fileno())
        sys.stdout, sys.stderr = streams
        if threads:
            torch.set_num_threads(threads)
            os.environ['OMP_NUM_THREADS'] = str(threads)
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            yield
    finally:
        try:
            _drop_new_instances(before)
            gc.collect()  # the runner, its data loaders' worker processes, its model
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        finally:
            for stream in streams:
                stream.flush()
            log.flush()
            sys.stdout, sys.stderr = saved_streams
            for stream in streams:
                stream.release()
            for fd, saved in saved_fds.items():
                if saved is not None:
                    os.dup2(saved, fd)
                    os.close(saved)
            torch.set_num_threads(saved_torch[0])
            cudnn.benchmark, cudnn.deterministic = saved_torch[1:3]
            torch.use_deterministic_algorithms(saved_torch[3], warn_only=saved_torch[4])
            if threads:
                if saved_omp is None:
                    os.environ.pop('OMP_NUM_THREADS', None)
                else:
                    os.environ['OMP_NUM_THREADS'] = saved_omp
            if main_thread and saved_sigterm is not None:
                signal.signal(signal.SIGTERM, saved_sigterm)


def failure_text(prog: str, error: BaseException, extra: Iterable[Union[type, str]] = ()) -> str:
    """What ``prog`` run as a command prints on stderr when ``error`` ends it (see
    :func:`pmu.utils.errors.run_tool`): one line ``<prog>: error: <message>`` for a user's mistake
    (the traceback with ``PMU_DEBUG=1``), the message of a ``SystemExit``, else the traceback."""
    from pmu.utils.errors import debugging, user_errors
    if isinstance(error, SystemExit):
        code = error.code
        return str(code) if code is not None and not isinstance(code, int) else f'{prog}: exit status {code}'
    if isinstance(error, user_errors(extra)) and not debugging([]):
        return f'{prog}: error: {" ".join(str(error).split())}'
    return ''.join(traceback.format_exception(type(error), error, error.__traceback__)).rstrip()
