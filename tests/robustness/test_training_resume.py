"""Exact resume: a run killed with ``kill -9`` (or stopped by SIGTERM) in the middle of an epoch, or
after the epoch checkpoint was written again for a new best score, and resumed with
``tools/train.py --resume`` ends with the same weights (bitwise, CPU, one thread) and the same
losses and metrics as the run that was never interrupted."""
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest
import torch

from tests.conftest import REPO
from tests.robustness.conftest import TEXT_CFG, TINY, run_tool, scalars, tool_env

pytestmark = pytest.mark.slow

# 2 epochs of 4 iterations; a checkpoint every 3 iterations: iteration 3 is batch 3 of epoch 1, 6 is 2 of epoch 2
MNER_OPTS = TINY + ['train_cfg.max_epochs=2', 'default_hooks.checkpoint.by_epoch=False',
                    'default_hooks.checkpoint.interval=3', 'default_hooks.checkpoint.max_keep_ckpts=5']


def train_killed_after(cfg, work_dir, options, checkpoint_name, log_path):
    """Start tools/train.py, ``kill -9`` it as soon as ``checkpoint_name`` is its last checkpoint."""
    log = open(log_path, 'w')
    proc = subprocess.Popen([sys.executable, 'tools/train.py', cfg, '--work-dir', work_dir, '--cfg-options',
                             *options], cwd=REPO, env=tool_env(), stdout=log, stderr=subprocess.STDOUT)
    marker = osp.join(work_dir, 'last_checkpoint')
    deadline = time.time() + 400
    while time.time() < deadline:
        if osp.isfile(marker) and open(marker).read().strip().endswith(checkpoint_name):
            break
        assert proc.poll() is None, open(log_path).read()[-3000:]
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    log.close()
    assert proc.returncode == -signal.SIGKILL
    return open(log_path).read()


def state(path):
    from pmu.engine import load_checkpoint_file
    return load_checkpoint_file(path)


def assert_same_weights(a, b):
    sa, sb = state(a)['state_dict'], state(b)['state_dict']
    assert sa.keys() == sb.keys()
    differ = [k for k in sa if not torch.equal(sa[k], sb[k])]
    assert not differ, f'{len(differ)} of {len(sa)} tensors differ, e.g. {differ[:3]}'


def losses_by_iter(work_dir):
    return {r['iter']: r['loss'] for r in scalars(work_dir) if 'loss' in r}


def val_metrics(work_dir, key):
    return [r[key] for r in scalars(work_dir) if key in r]


@pytest.fixture(scope='module')
def mner_runs(tmp_path_factory):
    """The uninterrupted run (in the background) and the killed one, then its resume."""
    root = tmp_path_factory.mktemp('resume_mner')
    full, killed = str(root / 'full'), str(root / 'killed')
    background = subprocess.Popen([sys.executable, 'tools/train.py', TEXT_CFG, '--work-dir', full, '--cfg-options',
                                   *MNER_OPTS], cwd=REPO, env=tool_env(), stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
    train_killed_after(TEXT_CFG, killed, MNER_OPTS, 'iter_3.pth', root / 'killed.log')
    assert not osp.exists(osp.join(killed, 'iter_8.pth'))
    resumed = run_tool(['tools/train.py', TEXT_CFG, '--work-dir', killed, '--resume', '--cfg-options', *MNER_OPTS])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    _, err = background.communicate(timeout=600)
    assert background.returncode == 0, err[-3000:]
    return full, killed, resumed.stdout + resumed.stderr


def test_checkpoints_carry_the_rng_states_and_load_safely(mner_runs):
    full, _, _ = mner_runs
    ckpt = state(osp.join(full, 'iter_3.pth'))  # load_checkpoint_file: torch.load(weights_only=True)
    rng = ckpt['rng_state']
    assert set(rng) >= {'python', 'numpy', 'torch'}
    assert rng['torch'].dtype == torch.uint8 and len(rng['python'][1]) == 625
    assert ckpt['meta']['iter'] == 3 and ckpt['meta']['epoch'] == 0


def test_kill_9_mid_epoch_then_resume_gives_the_same_weights(mner_runs):
    full, killed, log = mner_runs
    assert 'resumed in epoch 1 after batch 3/4' in log
    assert_same_weights(osp.join(full, 'iter_8.pth'), osp.join(killed, 'iter_8.pth'))


def test_kill_9_mid_epoch_then_resume_gives_the_same_losses_and_metrics(mner_runs):
    full, killed, _ = mner_runs
    a, b = losses_by_iter(full), losses_by_iter(killed)
    assert sorted(a) == list(range(1, 9)) and set(b) >= set(range(4, 9))
    assert [b[i] for i in range(4, 9)] == [a[i] for i in range(4, 9)]
    assert val_metrics(killed, 'ner/f1')[-2:] == val_metrics(full, 'ner/f1')[-2:]
    assert len(val_metrics(full, 'ner/f1')) == 2


# Pre-training with the teacher's soft labels, its random augmentations in a persistent worker process:
# 3 epochs of 2 iterations, a checkpoint every 3 iterations (iteration 3 is batch 1 of epoch 2).
def student_options(cache_dir, teacher_dir):
    return [f'cache_dir={cache_dir}', f'custom_hooks.1.teacher_checkpoint={teacher_dir}',
            'model.pseudo_labels.threshold=0.0', 'train_cfg.max_epochs=3',
            'train_dataloader.dataset.indices=8', 'train_dataloader.batch_size=4',
            'train_dataloader.num_workers=1', 'train_dataloader.persistent_workers=True',
            'val_dataloader.dataset.indices=8', 'val_dataloader.batch_size=8', 'val_dataloader.num_workers=0',
            'val_dataloader.persistent_workers=False', 'default_hooks.logger.interval=1',
            'default_hooks.checkpoint.by_epoch=False', 'default_hooks.checkpoint.interval=3',
            'default_hooks.checkpoint.max_keep_ckpts=5']


STUDENT_CFG = 'configs/pretrain/promu_minilm-effnet_coco-mini.py'


def test_pretraining_killed_mid_epoch_resumes_exactly(cache_dir, teacher_dir, tmp_path):
    options = student_options(cache_dir, teacher_dir)
    full, killed = str(tmp_path / 'full'), str(tmp_path / 'killed')
    background = subprocess.Popen([sys.executable, 'tools/train.py', STUDENT_CFG, '--work-dir', full,
                                   '--cfg-options', *options], cwd=REPO, env=tool_env(), stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
    train_killed_after(STUDENT_CFG, killed, options, 'iter_3.pth', tmp_path / 'killed.log')
    assert not osp.exists(osp.join(killed, 'iter_6.pth'))
    resumed = run_tool(['tools/train.py', STUDENT_CFG, '--work-dir', killed, '--resume', '--cfg-options', *options])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    _, err = background.communicate(timeout=600)
    assert background.returncode == 0, err[-3000:]
    log = resumed.stdout + resumed.stderr
    assert 'resumed in epoch 2 after batch 1/2; replayed the loading of 3 batches' in log
    assert_same_weights(osp.join(full, 'iter_6.pth'), osp.join(killed, 'iter_6.pth'))
    a, b = losses_by_iter(full), losses_by_iter(killed)
    assert [b[i] for i in range(4, 7)] == [a[i] for i in range(4, 7)]
    assert val_metrics(killed, 'retrieval/t2i_R@1')[-2:] == val_metrics(full, 'retrieval/t2i_R@1')[-2:]


# Validation and best-checkpoint saving on (save_best='auto', pmu's default): after epoch 1 the first best
# score makes MMEngine write epoch_1.pth again, after validation. Its random states are those training goes on
# with (not those validation advanced), so a run stopped in epoch 2, by kill -9 or SIGTERM, resumes exactly.
BEST_OPTS = ['train_dataloader.dataset.indices=32', 'train_dataloader.batch_size=4', 'train_dataloader.num_workers=0',
             'train_dataloader.persistent_workers=False', 'val_dataloader.dataset.indices=16',
             'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
             'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False', 'randomness.seed=7',
             'default_hooks.logger.interval=1', 'train_cfg.max_epochs=2']


def train_stopped_in_epoch(cfg, work_dir, options, epoch, sig, log_path):
    """Start tools/train.py, send it ``sig`` once it has logged the first iteration of ``epoch``."""
    log = open(log_path, 'w')
    proc = subprocess.Popen([sys.executable, 'tools/train.py', cfg, '--work-dir', work_dir, '--cfg-options',
                             *options], cwd=REPO, env=tool_env(), stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 400
    while time.time() < deadline:
        if f'Epoch(train) [{epoch}][1/' in open(log_path).read():
            break
        assert proc.poll() is None, open(log_path).read()[-3000:]
        time.sleep(0.02)
    os.kill(proc.pid, sig)
    proc.wait()
    log.close()
    return proc.returncode, open(log_path).read()


@pytest.fixture(scope='module')
def best_runs(tmp_path_factory):
    """The uninterrupted run, and runs stopped in epoch 2 by kill -9 and by SIGTERM, each then resumed."""
    root = tmp_path_factory.mktemp('resume_best')
    full = str(root / 'full')
    background = subprocess.Popen([sys.executable, 'tools/train.py', TEXT_CFG, '--work-dir', full, '--cfg-options',
                                   *BEST_OPTS], cwd=REPO, env=tool_env(), stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
    runs = {}
    for name, sig in (('kill9', signal.SIGKILL), ('sigterm', signal.SIGTERM)):
        work = str(root / name)
        rc, stopped_log = train_stopped_in_epoch(TEXT_CFG, work, BEST_OPTS, 2, sig, root / f'{name}.log')
        assert 'The best checkpoint with' in stopped_log  # epoch_1.pth was written again after validation
        left = sorted(os.listdir(work))
        resumed = run_tool(['tools/train.py', TEXT_CFG, '--work-dir', work, '--resume', '--cfg-options', *BEST_OPTS])
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        runs[name] = dict(work=work, rc=rc, stopped_log=stopped_log, left=left,
                          log=resumed.stdout + resumed.stderr)
    _, err = background.communicate(timeout=600)
    assert background.returncode == 0, err[-3000:]
    return full, runs


@pytest.mark.parametrize('how', ['kill9', 'sigterm'])
def test_resume_with_save_best_is_exact(best_runs, how):
    full, runs = best_runs
    run = runs[how]
    assert 'resumed epoch: 1, iter: 8' in run['log']
    assert_same_weights(osp.join(full, 'epoch_2.pth'), osp.join(run['work'], 'epoch_2.pth'))
    a, b = losses_by_iter(full), losses_by_iter(run['work'])
    assert sorted(a) == list(range(1, 17))
    assert [b[i] for i in range(9, 17)] == [a[i] for i in range(9, 17)]
    assert val_metrics(run['work'], 'ner/f1')[-1] == val_metrics(full, 'ner/f1')[-1]


def test_sigterm_stops_cleanly_and_kill_9_leaves_a_lock_that_is_taken_over(best_runs):
    _, runs = best_runs
    term, kill = runs['sigterm'], runs['kill9']
    assert term['rc'] == 128 + signal.SIGTERM
    assert 'tools/train.py: stopped by signal 15; continue with --resume' in term['stopped_log']
    assert 'pmu_train.lock' not in term['left']  # released on the way out
    assert kill['rc'] == -signal.SIGKILL and 'pmu_train.lock' in kill['left']
    assert 'no longer runs; taking the work dir over' in kill['log']
    for run in (term, kill):
        assert not [n for n in run['left'] if '.tmp-' in n]
        assert 'epoch_1.pth' in run['left'] and not osp.exists(osp.join(run['work'], 'pmu_train.lock'))


def test_pretraining_with_save_best_stopped_in_epoch_2_resumes_exactly(cache_dir, teacher_dir, tmp_path):
    """Pre-training with its persistent worker and a best checkpoint on retrieval: epoch_1.pth is written again
    after the first validation; a kill -9 in epoch 2 resumes at the epoch's start, the worker's loading of epoch 1
    replayed, and ends as the uninterrupted run."""
    options = [o for o in student_options(cache_dir, teacher_dir) if not o.startswith('default_hooks.checkpoint.')]
    options += ['default_hooks.checkpoint.save_best=auto', 'default_hooks.checkpoint.rule=greater']
    full, killed = str(tmp_path / 'full'), str(tmp_path / 'killed')
    background = subprocess.Popen([sys.executable, 'tools/train.py', STUDENT_CFG, '--work-dir', full,
                                   '--cfg-options', *options], cwd=REPO, env=tool_env(), stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
    _, stopped = train_stopped_in_epoch(STUDENT_CFG, killed, options, 2, signal.SIGKILL, tmp_path / 'killed.log')
    assert 'The best checkpoint with' in stopped
    resumed = run_tool(['tools/train.py', STUDENT_CFG, '--work-dir', killed, '--resume', '--cfg-options', *options])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    _, err = background.communicate(timeout=600)
    assert background.returncode == 0, err[-3000:]
    log = resumed.stdout + resumed.stderr
    assert 'resumed in epoch 2 after batch 0/2; replayed the loading of 2 batches' in log
    assert_same_weights(osp.join(full, 'epoch_3.pth'), osp.join(killed, 'epoch_3.pth'))
    a, b = losses_by_iter(full), losses_by_iter(killed)
    assert [b[i] for i in range(3, 7)] == [a[i] for i in range(3, 7)]
    assert val_metrics(killed, 'retrieval/t2i_R@1')[-2:] == val_metrics(full, 'retrieval/t2i_R@1')[-2:]
