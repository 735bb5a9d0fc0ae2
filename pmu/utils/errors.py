"""Errors that several layers of pmu raise alike, and how the tools report them.

The errors here are mistakes in what a user gave (a config path, an override,
a data root): their message names the key or file and, where one exists, the
fix. :func:`run_tool` prints them (and the checkpoint errors of
:mod:`pmu.utils.checkpoint`) as one line, without a traceback.
"""
import os
import sys
from typing import Callable, Iterable, Optional, Union


class ConfigKeyError(KeyError):
    """A config key (an override of ``--cfg-options``, a ``prepare.*`` option) that nothing would read."""

    def __str__(self):
        return str(self.args[0])


class ConfigValueError(ConfigKeyError, ValueError):
    """An override (``--cfg-options``) whose value is not of the type of the config's value there."""


class ConfigError(ValueError):
    """A config that cannot be completed or run as written (a value that is needed and cannot be derived)."""


class ConfigNotFoundError(FileNotFoundError):
    """A config file that does not exist; the message names the closest existing configs."""


class DataNotFoundError(FileNotFoundError):
    """A dataset file (or the data root itself) that does not exist, found before any run starts."""


def user_errors(extra: Iterable[Union[type, str]] = ()) -> tuple:
    """The error classes :func:`run_tool` reports as one line: the config and data errors above, the
    checkpoint errors (:class:`pmu.utils.checkpoint.CheckpointError`) and ``extra`` (classes, or their
    dotted names, e.g. ``'pmu.engine.lock.WorkDirBusyError'``, imported only when an error occurs)."""
    import importlib

    from pmu.utils.checkpoint import CheckpointError
    extra = [getattr(importlib.import_module(e.rpartition('.')[0]), e.rpartition('.')[2]) if isinstance(e, str)
             else e for e in extra]
    return (ConfigKeyError, ConfigError, ConfigNotFoundError, DataNotFoundError, CheckpointError, *extra)


def debugging(argv: Optional[list] = None) -> bool:
    """``PMU_DEBUG=1`` in the environment, or ``--debug`` among the arguments: show tracebacks."""
    argv = sys.argv[1:] if argv is None else argv
    return os.environ.get('PMU_DEBUG', '') not in ('', '0') or '--debug' in argv


def run_tool(main: Callable, prog: Optional[str] = None, extra: Iterable[Union[type, str]] = (), argv=None):
    """Run a tool's ``main``; a user-facing error (:func:`user_errors`) ends it with one line on
    stderr, ``<prog>: error: <message>``, and exit status 1 (``SystemExit`` carrying that line, so a
    caller in the same process sees the message too).

    With ``PMU_DEBUG=1`` (or ``--debug`` among the arguments, which the tool's parser must accept) the
    error is raised with its traceback instead. Any other exception is left alone: it is a bug or
    a failure the tool does not know, and its traceback is what helps.

    Example (the end of ``tools/train.py``)::

        if __name__ == '__main__':
            run_tool(main, 'tools/train.py')
    """
    prog = prog or os.path.basename(sys.argv[0])
    try:
        return main() if argv is None else main(argv)
    except user_errors(extra) as e:  # evaluated only when an exception propagates
        if debugging(argv):
            raise
        message = ' '.join(str(e).split())  # one line, whatever the message holds
        raise SystemExit(f'{prog}: error: {message}') from None
