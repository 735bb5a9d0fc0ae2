"""The MNER command-line tools, run as a user runs them: real processes, on the real Twitter-2017
when it is there, else on the demo set (demo/data, same format)."""
import glob
import json
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest
import torch

from tests.conftest import REPO, write

TEXT_CFG = 'configs/mner/textonly_minilm_twitter2017.py'
# a few tweets (24 train, 8 val/test: the demo set has 40 and 12), small batches: seconds per epoch on CPU
SMALL = [
    'train_dataloader.dataset.indices=24', 'train_dataloader.batch_size=4',
    'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
] + [
    f'{split}_dataloader.{k}' for split in ('val', 'test')
    for k in ('dataset.indices=8', 'batch_size=8', 'num_workers=0', 'persistent_workers=False')
] + [
    'default_hooks.logger.interval=1', 'train_cfg.max_epochs=2'
]
pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def data_env(twitter_root, monkeypatch):
    """The tools (and their torchrun children) find Twitter-2017 under ``$PMU_DATA_ROOT``."""
    monkeypatch.setenv('PMU_DATA_ROOT', twitter_root)


def run(args, **kw):
    env = dict(os.environ, PYTHONUNBUFFERED='1', **kw.pop('env', {}))
    return subprocess.run([sys.executable] + args, cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=kw.pop('timeout', 600), **kw)


def last_iter(work_dir):
    from pmu.engine import load_checkpoint_file
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return load_checkpoint_file(f.read().strip())['meta']['iter']


def test_train_then_test_with_predictions_out(tmp_path):
    wd = str(tmp_path / 'wd')
    r = run(['tools/train.py', TEXT_CFG, '--work-dir', wd, '--cfg-options'] + SMALL)
    assert r.returncode == 0, r.stderr[-3000:]
    assert last_iter(wd) == 12
    best = glob.glob(osp.join(wd, 'best_ner_f1_epoch_*.pth'))
    assert len(best) == 1
    # a person can read the log and look at the curves
    assert osp.isfile(osp.join(wd, 'curves.png'))
    out = str(tmp_path / 'pred.conll')
    r = run(['tools/test.py', TEXT_CFG, best[0], '--work-dir', wd, '--out', out, '--cfg-options']
            + SMALL)
    assert r.returncode == 0, r.stderr[-3000:]
    metrics = json.loads(r.stdout.strip().splitlines()[-1])
    assert 0 <= metrics['ner/f1'] <= 100 and 'ner/PER/f1' in metrics
    blocks = open(out).read().strip().split('\n\n')
    assert len(blocks) == 8 and blocks[0].startswith('IMGID:')
    assert all(len(line.split('\t')) == 3 for b in blocks for line in b.splitlines()[1:])


def test_resume_after_kill_9_mid_epoch(tmp_path):
    wd = str(tmp_path / 'wd')
    cmd = [sys.executable, 'tools/train.py', TEXT_CFG, '--work-dir', wd, '--cfg-options'
           ] + SMALL[:-1] + ['train_cfg.max_epochs=3']
    log = open(tmp_path / 'log.txt', 'w')
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                            env=dict(os.environ, PYTHONUNBUFFERED='1'))
    deadline = time.time() + 300
    while time.time() < deadline and 'Epoch(train) [2][3/6]' not in open(tmp_path / 'log.txt').read():
        assert proc.poll() is None, open(tmp_path / 'log.txt').read()[-3000:]
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert last_iter(wd) == 6  # the epoch-1 checkpoint is all that was saved
    r = run(['tools/train.py', TEXT_CFG, '--work-dir', wd, '--resume', '--cfg-options'] +
            SMALL[:-1] + ['train_cfg.max_epochs=3'])
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'resumed epoch: 1, iter: 6' in r.stdout
    assert last_iter(wd) == 18  # same final iteration as an uninterrupted run


def test_torchrun_two_processes(tmp_path):
    wd = str(tmp_path / 'wd')
    r = run(['-m', 'torch.distributed.run', '--nproc_per_node', '2', '--master_port', '29533',
             'tools/train.py', TEXT_CFG, '--launcher', 'pytorch', '--work-dir', wd,
             '--cfg-options'] + SMALL)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    # MMEngine's environment report is in the log file (the console leaves it out)
    log = open(glob.glob(osp.join(wd, '*', '*.log'))[0]).read()
    assert 'Distributed training: True' in log and "'backend': 'gloo'" in log
    assert 'Distributed training: True' not in r.stdout
    # 24 samples over 2 ranks with batch 4: 3 iterations per epoch
    assert last_iter(wd) == 6


PLUGIN = '''
import torch
import torch.nn as nn
from pmu.models.fusion import BaseFusion, FusionOutput
from pmu.registry import MODELS


@MODELS.register_module()
class GatedTextFusion(BaseFusion):
    """A fusion module that lives outside pmu."""

    def __init__(self, hidden):
        super().__init__()
        self.gate = nn.Linear(hidden, hidden)

    def fuse(self, text_encoder, text_states, attention_mask, visual=None, has_image=None):
        return FusionOutput(text_states * torch.sigmoid(self.gate(text_states)))
'''


def test_module_registered_outside_the_package_trains(tmp_path):
    write(tmp_path / 'plugins' / 'my_fusion.py', PLUGIN)
    cfg = write(tmp_path / 'my_config.py', f'''
_base_ = '{REPO}/{TEXT_CFG}'
custom_imports = dict(imports=['my_fusion'], allow_failed_imports=False)
model = dict(fusion=dict(_delete_=True, type='GatedTextFusion'))  # hidden: from the text encoder
''')
    wd = str(tmp_path / 'wd')
    r = run(['tools/train.py', cfg, '--work-dir', wd, '--cfg-options'] + SMALL,
            env=dict(PYTHONPATH=str(tmp_path / 'plugins')))
    assert r.returncode == 0, r.stderr[-3000:]
    from pmu.engine import load_checkpoint_file
    with open(osp.join(wd, 'last_checkpoint')) as f:
        state = load_checkpoint_file(f.read().strip())['state_dict']
    assert 'fusion.gate.weight' in state
    assert not torch.equal(state['fusion.gate.weight'], torch.zeros(384, 384))
