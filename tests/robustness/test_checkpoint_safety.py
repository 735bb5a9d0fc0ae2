"""Checkpoints that cannot be used: truncated, malicious, missing, of another model; resume without one."""
import os
import os.path as osp
import re
import shutil

import pytest
import torch

from pmu.utils.checkpoint import (CheckpointError, UnsafeCheckpointError, load_checkpoint_file,
                                  load_mapped_checkpoint)
from tests.robustness.conftest import TEXT_CFG, TINY, run_tool

PROMU_CFG = 'configs/mner/promu_minilm-effnet_twitter2017.py'


def truncated(path, tmp_path):
    out = str(tmp_path / 'truncated.pth')
    with open(path, 'rb') as f:
        data = f.read()
    with open(out, 'wb') as f:
        f.write(data[:len(data) // 2])
    return out


class Payload:
    """Unpickling this runs a shell command that creates a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


@pytest.fixture
def malicious(tmp_path):
    marker = str(tmp_path / 'payload_ran')
    path = str(tmp_path / 'epoch_1.pth')
    torch.save({'meta': {'epoch': 1, 'iter': 4}, 'state_dict': {'w': torch.zeros(2)}, 'extra': Payload(marker)}, path)
    return path, marker


def test_truncated_checkpoint_is_named(tiny_mner_checkpoint, tmp_path):
    bad = truncated(tiny_mner_checkpoint, tmp_path)
    with pytest.raises(CheckpointError, match=rf'cannot read checkpoint {bad} \(\d+ bytes\): truncated or not a '
                                              r'torch checkpoint'):
        load_checkpoint_file(bad)


def test_truncated_checkpoint_on_resume_is_named(tiny_mner_checkpoint, tmp_path):
    import pmu.engine  # noqa: F401  (what tools/train.py imports: MMEngine's loading goes through pmu's)
    from mmengine.runner.checkpoint import _load_checkpoint  # what Runner.resume and load_from call
    bad = truncated(tiny_mner_checkpoint, tmp_path)
    with pytest.raises(CheckpointError, match=rf'cannot read checkpoint {bad}'):
        _load_checkpoint(bad, map_location='cpu')


def test_malicious_checkpoint_is_refused_and_its_payload_never_runs(malicious):
    path, marker = malicious
    with pytest.raises(UnsafeCheckpointError, match=rf'checkpoint {path} was refused by safe loading'):
        load_checkpoint_file(path)
    assert not osp.exists(marker)


def test_malicious_checkpoint_given_to_resume_is_refused(malicious):
    import pmu.engine  # noqa: F401
    from mmengine.runner.checkpoint import _load_checkpoint
    path, marker = malicious
    with pytest.raises(UnsafeCheckpointError, match='nothing in it was run'):
        _load_checkpoint(path, map_location='cpu')
    assert not osp.exists(marker)


def test_missing_checkpoint_file_is_named(tmp_path):
    missing = str(tmp_path / 'nope.pth')
    with pytest.raises(CheckpointError, match=f'checkpoint file {missing} not found'):
        load_checkpoint_file(missing)
    with pytest.raises(FileNotFoundError, match=f'checkpoint {missing} not found'):
        load_mapped_checkpoint(torch.nn.Linear(2, 2), missing, strict=True)


def test_strict_load_names_the_key_groups(tiny_mner_checkpoint):
    class Other(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.head = torch.nn.Linear(2, 2)
    with pytest.raises(RuntimeError, match=r'does not match the model Other \(strict=True\): missing in checkpoint '
                                           r'\(2\): head\.weight\.\* \(1\), head\.bias\.\* \(1\); unexpected \(\d+\): '
                                           r'text_encoder\.model\.\* \(\d+\)'):
        load_mapped_checkpoint(Other(), tiny_mner_checkpoint, strict=True)


@pytest.mark.slow
def test_resume_with_nothing_in_the_work_dir_says_so(tmp_path):
    r = run_tool(['tools/train.py', TEXT_CFG, '--work-dir', str(tmp_path), '--resume'])
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1] == (
        f'FileNotFoundError: --resume: nothing to resume in {tmp_path} (no last_checkpoint there, the file MMEngine '
        'writes with each checkpoint): train without --resume, give --work-dir of the interrupted run, or name its '
        'checkpoint (--resume PATH)')


def test_resume_from_a_missing_file_is_named(tmp_path):
    from pmu.apis.config import load_complete_config, prepare_train_config
    cfg = load_complete_config(TEXT_CFG)
    with pytest.raises(FileNotFoundError, match=f'--resume {tmp_path}/x.pth: no such checkpoint file'):
        prepare_train_config(cfg, resume=str(tmp_path / 'x.pth'))


@pytest.mark.slow
def test_test_tool_refuses_a_checkpoint_of_another_model(tiny_mner_checkpoint):
    r = run_tool(['tools/test.py', PROMU_CFG, tiny_mner_checkpoint, '--cfg-options', *TINY])
    assert r.returncode == 1
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith(f'RuntimeError: {tiny_mner_checkpoint} does not match the model MultimodalNER '
                           '(strict=True): missing in checkpoint (')
    assert 'visual_encoder.net.* (245)' in last and 'Is it a checkpoint of another model or config?' in last
    assert '"ner/f1"' not in r.stdout  # no metrics of random weights


@pytest.mark.slow
def test_test_tool_non_strict_loads_what_matches_and_logs_what_was_missing(tiny_mner_checkpoint):
    r = run_tool(['tools/test.py', PROMU_CFG, tiny_mner_checkpoint, '--non-strict', '--cfg-options', *TINY])
    assert r.returncode == 0, r.stderr[-3000:]
    log = r.stdout + r.stderr
    assert re.search(r'WARNING - +missing in checkpoint: visual_encoder\.net\.\* \(245\)', log)
    assert '"ner/f1"' in r.stdout.strip().splitlines()[-1]


@pytest.mark.slow
def test_test_tool_loads_its_own_checkpoint_strictly(tiny_mner_checkpoint, tmp_path):
    own = str(tmp_path / 'copy.pth')
    shutil.copy(tiny_mner_checkpoint, own)
    r = run_tool(['tools/test.py', TEXT_CFG, own, '--cfg-options', *TINY])
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'missing in checkpoint: 0, unexpected: 0, shape mismatch (skipped): 0, partly loaded: 0' in r.stdout
