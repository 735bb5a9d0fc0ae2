"""What the robustness tests share: tiny runs of the real tools on the real data (the demo set when
the data is not there), and the runs several tests read."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import pytest

from tests.conftest import REPO

TEXT_CFG = 'configs/mner/textonly_minilm_twitter2017.py'
# 16 train tweets in batches of 4 (4 iterations an epoch), 8 for validation and testing, no workers
TINY = [
    'train_dataloader.dataset.indices=16', 'train_dataloader.batch_size=4',
    'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
] + [
    f'{split}_dataloader.{k}' for split in ('val', 'test')
    for k in ('dataset.indices=8', 'batch_size=8', 'num_workers=0', 'persistent_workers=False')
] + ['default_hooks.logger.interval=1']


def tiny_options(**extra) -> dict:
    """``TINY`` as the typed dict ``--cfg-options`` makes of it (MMEngine's ``DictAction``, as the tools
    parse it), updated with ``extra``: for runs built in-process."""
    import argparse

    from mmengine.config import DictAction
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return {**parser.parse_args(['--cfg-options', *TINY]).cfg_options, **extra}


def tool_env(**extra):
    """The environment of a tool subprocess: one thread (bitwise-repeatable on CPU), offline."""
    from pmu.utils import find_data_root
    env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='1', HF_HUB_OFFLINE='1',
               TRANSFORMERS_OFFLINE='1')
    try:
        env['PMU_DATA_ROOT'] = osp.abspath(find_data_root())
    except FileNotFoundError:
        env['PMU_DATA_ROOT'] = osp.join(REPO, 'demo', 'data')
    env.update(extra)
    return env


def run_tool(args, timeout=600, **extra_env):
    """``python tools/...`` as a user runs it, from the repository root."""
    return subprocess.run([sys.executable] + list(args), cwd=REPO, env=tool_env(**extra_env), capture_output=True,
                          text=True, timeout=timeout)


def scalars(work_dir):
    """The records of a run's ``vis_data/scalars.json`` (every timestamped log dir, oldest first)."""
    records = []
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))):
        with open(path) as f:
            records += [json.loads(line) for line in f if line.strip()]
    return records


@pytest.fixture(scope='session')
def tiny_mner_checkpoint(tmp_path_factory):
    """A text-only MNER checkpoint: one epoch of 4 iterations of tools/train.py (shared by the test-tool and
    schedule cases; its work dir is the checkpoint's folder)."""
    wd = str(tmp_path_factory.mktemp('tiny_mner'))
    r = run_tool(['tools/train.py', TEXT_CFG, '--work-dir', wd, '--cfg-options', *TINY, 'train_cfg.max_epochs=1'])
    assert r.returncode == 0, r.stderr[-3000:]
    return osp.join(wd, 'epoch_1.pth')


# the pseudo-label cache and the two-iteration teacher of the pre-training tests, for the student's resume
from tests.models.pretrainers.conftest import cache_dir, teacher_dir  # noqa: E402,F401
