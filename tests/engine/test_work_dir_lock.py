"""One training per work dir: a second one is refused naming the first (pid, host, start time); the lock of a
training that no longer runs (kill -9) is taken over with a warning; the lock goes when the training ends."""
import json
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest

from pmu.engine import WorkDirBusyError, WorkDirLock
from pmu.engine.lock import LOCK_NAME
from tests.conftest import REPO
from tests.robustness.conftest import TEXT_CFG, TINY, run_tool, tool_env

HOLD = ('import sys, time\nfrom pmu.engine import WorkDirLock\n'
        'with WorkDirLock(sys.argv[1]):\n    print("held", flush=True)\n    time.sleep(120)\n')


@pytest.fixture
def held_elsewhere(tmp_path):
    """A work dir whose lock another process holds."""
    proc = subprocess.Popen([sys.executable, '-c', HOLD, str(tmp_path)], cwd=REPO, env=tool_env(),
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == 'held'
    yield tmp_path, proc
    proc.kill()
    proc.wait()


def test_a_second_training_in_the_same_work_dir_is_refused_naming_the_first(held_elsewhere):
    work, proc = held_elsewhere
    info = json.load(open(work / LOCK_NAME))
    with pytest.raises(WorkDirBusyError) as e:
        WorkDirLock(str(work)).acquire()
    assert str(e.value).startswith(
        f'work dir {work} is in use by another training: pid {proc.pid} on host {socket.gethostname()}, started '
        f'{info["started"]} (')
    assert "overwrite each other's checkpoints and last_checkpoint" in str(e.value)


@pytest.mark.slow
def test_train_tool_refuses_a_work_dir_in_use(held_elsewhere):
    work, proc = held_elsewhere
    r = run_tool(['tools/train.py', TEXT_CFG, '--work-dir', str(work), '--cfg-options', *TINY,
                  'train_cfg.max_epochs=1'])
    assert r.returncode == 1
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith(f'tools/train.py: error: work dir {work} is in use by another training: pid '
                           f'{proc.pid} on host {socket.gethostname()}, started ')
    assert not osp.exists(work / 'last_checkpoint')


def test_the_lock_of_a_killed_training_is_taken_over_with_a_warning(tmp_path, mmlog):
    proc = subprocess.Popen([sys.executable, '-c', HOLD, str(tmp_path)], cwd=REPO, env=tool_env(),
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == 'held'
    proc.kill()  # kill -9: the lock file stays
    proc.wait()
    assert json.load(open(tmp_path / LOCK_NAME))['pid'] == proc.pid
    with WorkDirLock(str(tmp_path)):
        assert json.load(open(tmp_path / LOCK_NAME))['pid'] == os.getpid()
        assert any(line.startswith(f'{tmp_path / LOCK_NAME}: the training that held it (pid {proc.pid} on '
                                   f'{socket.gethostname()}, started ') and 'no longer runs; taking the work dir over'
                   in line for line in mmlog.lines)
    assert not osp.exists(tmp_path / LOCK_NAME)  # released


def test_a_lock_of_another_host_is_refused_with_how_to_remove_it(tmp_path):
    (tmp_path / LOCK_NAME).write_text(json.dumps(dict(pid=1, host='gpu-node-7', started='2026-01-01T00:00:00+00:00',
                                                      command='python tools/train.py x.py')))
    with pytest.raises(WorkDirBusyError, match=r'pid 1 on host gpu-node-7, started 2026-01-01T00:00:00\+00:00 '
                                               r'\(python tools/train.py x.py\).*another machine.*if it is over, '
                                               rf'delete {tmp_path}/{LOCK_NAME}'):
        WorkDirLock(str(tmp_path)).acquire()


def test_a_reused_pid_does_not_keep_a_stale_lock(tmp_path):
    # this process's pid, but another process start time: the lock's process has ended, its pid reused
    (tmp_path / LOCK_NAME).write_text(json.dumps(dict(pid=os.getppid(), host=socket.gethostname(),
                                                      process_start='1', started='earlier')))
    with WorkDirLock(str(tmp_path)) as lock:
        assert lock.held
