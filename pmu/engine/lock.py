"""One training per work dir: a lock file naming the process that trains there."""
import datetime
import json
import os
import os.path as osp
import socket
import sys
import time
from typing import Optional

from mmengine.logging import print_log

from pmu.utils.checkpoint import pid_alive

LOCK_NAME = 'pmu_train.lock'


class WorkDirBusyError(RuntimeError):
    """Another training runs in the work dir."""


def _process_start(pid: int) -> Optional[str]:
    """When ``pid`` started (clock ticks since boot, Linux), to tell a reused pid from the lock's process."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[19]
    except (OSError, IndexError):
        return None


class WorkDirLock:
    """``<work_dir>/pmu_train.lock``, held while a training runs there (``tools/train.py`` takes it).

    The file holds the pid, host, start time and command of the process. A second
    training into the same work dir stops with :class:`WorkDirBusyError` naming them (two runs
    would overwrite each other's checkpoints and ``last_checkpoint``). A lock whose process no
    longer runs (killed with ``kill -9``, the machine rebooted: same host, pid gone or reused)
    is taken over with a warning. A lock of another host cannot be checked: the error says
    to delete it if that run is over. Used as a context manager; released on exit, exceptions
    (and SIGTERM, which ``tools/train.py`` turns into ``SystemExit``) included.
    """

    def __init__(self, work_dir: str):
        self.work_dir = work_dir
        self.path = osp.join(work_dir, LOCK_NAME)
        self.held = False

    def _me(self) -> dict:
        pid = os.getpid()
        return dict(pid=pid, host=socket.gethostname(), process_start=_process_start(pid),
                    started=datetime.datetime.now().astimezone().isoformat(timespec='seconds'),
                    command=' '.join([osp.basename(sys.executable)] + sys.argv))

    def _read(self) -> Optional[dict]:
        try:
            with open(self.path) as f:
                other = json.load(f)
            return other if isinstance(other, dict) and isinstance(other.get('pid'), int) else None
        except (OSError, ValueError):
            return None

    def _running(self, other: dict) -> bool:
        if other.get('host') != socket.gethostname():
            return True  # cannot be checked from here
        if not pid_alive(other['pid']):
            return False
        start = _process_start(other['pid'])
        return not (start and other.get('process_start') and start != other['process_start'])

    def _busy(self, other: dict) -> WorkDirBusyError:
        elsewhere = other.get('host') != socket.gethostname()
        return WorkDirBusyError(
            f'work dir {self.work_dir} is in use by another training: pid {other["pid"]} on host '
            f'{other.get("host")}, started {other.get("started")} ({other.get("command", "?")}). Two runs in one work '
            f'dir overwrite each other\'s checkpoints and last_checkpoint: wait for it to finish, stop it, or '
            f'give this run another --work-dir.'
            + (f' That process runs on another machine and cannot be checked from here; if it is over, delete '
               f'{self.path}' if elsewhere else ''))

    def acquire(self) -> 'WorkDirLock':
        os.makedirs(self.work_dir, exist_ok=True)
        me = self._me()
        for _ in range(50):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                other = self._read()
                if other is None:  # being written this instant, or cut by a kill while written
                    if time.time() - osp.getmtime(self.path) < 2:
                        time.sleep(0.1)
                        continue
                    print_log(f'{self.path} is unreadable (a training killed while it took the lock): taken over',
                              logger='current', level=30)
                elif other.get('pid') == me['pid'] and other.get('host') == me['host']:
                    pass  # this process's own (a second run of it in one process: tests, notebooks)
                elif self._running(other):
                    raise self._busy(other) from None
                else:
                    print_log(f'{self.path}: the training that held it (pid {other["pid"]} on {other.get("host")}, '
                              f'started {other.get("started")}) no longer runs; taking the work dir over',
                              logger='current', level=30)
                tmp = f'{self.path}.{me["pid"]}'
                with open(tmp, 'w') as f:
                    json.dump(me, f)
                os.replace(tmp, self.path)
                time.sleep(0.05)
                mine = self._read()
                if not mine or mine.get('pid') != me['pid'] or mine.get('host') != me['host']:
                    raise self._busy(mine or {'pid': '?'}) from None  # another process took it over at the same time
                self.held = True
                return self
            with os.fdopen(fd, 'w') as f:
                json.dump(me, f)
            self.held = True
            return self
        raise WorkDirBusyError(f'{self.path} stays unreadable: is another training taking it right now?')

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        other = self._read()
        if other and other.get('pid') == os.getpid() and other.get('host') == socket.gethostname():
            try:
                os.remove(self.path)
            except OSError:
                pass

    def __enter__(self) -> 'WorkDirLock':
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
