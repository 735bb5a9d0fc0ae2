"""Checkpoints that cannot be used: truncated, malicious, missing, of another model; resume without one."""
import os
import os.path as osp
import re
import shutil

import pytest
import torch

from pmu.utils.checkpoint import CheckpointError, UnsafeCheckpointError, load_checkpoint_file, load_mapped_checkpoint
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
    from pmu.engine import register_safe_globals
    register_safe_globals()  # what the tools and pmu's checkpoint hook do: MMEngine's loading goes through pmu's
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
    from pmu.engine import register_safe_globals
    register_safe_globals()
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
        f'tools/train.py: error: --resume: nothing to resume in {tmp_path} (no last_checkpoint there, the file '
        'MMEngine writes with each checkpoint): train without --resume, give --work-dir of the interrupted run, '
        'or name its checkpoint (--resume PATH)')


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
    assert last.startswith(f'tools/test.py: error: {tiny_mner_checkpoint} does not match the model MultimodalNER '
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


@pytest.fixture(scope='module')
def non_finite_checkpoint(tiny_mner_checkpoint, tmp_path_factory):
    """The tiny MNER checkpoint with a NaN in the CRF transitions and an infinity in the classifier."""
    ckpt = load_checkpoint_file(tiny_mner_checkpoint)
    state = ckpt['state_dict']
    names = [k for k in state if state[k].is_floating_point()]
    first, second = names[-1], names[-2]
    state[first].view(-1)[0] = float('nan')
    state[second].view(-1)[:2] = float('inf')
    path = str(tmp_path_factory.mktemp('nan') / 'nan.pth')
    torch.save(ckpt, path)
    return path, second, first


def test_non_finite_weights_are_refused_naming_the_tensors(non_finite_checkpoint):
    from pmu.utils.checkpoint import NonFiniteCheckpointError
    path, inf_name, nan_name = non_finite_checkpoint
    with pytest.raises(NonFiniteCheckpointError, match=re.escape(
            f'checkpoint {path} holds non-finite weights: 2 tensors with NaN or infinite values, first '
            f'{inf_name} (0 NaN, 2 inf of ')):
        load_mapped_checkpoint(torch.nn.Linear(2, 2), path)


@pytest.mark.slow
def test_test_and_infer_tools_refuse_non_finite_weights(non_finite_checkpoint):
    path, inf_name, nan_name = non_finite_checkpoint
    r = run_tool(['tools/test.py', TEXT_CFG, path, '--cfg-options', *TINY])
    assert r.returncode == 1
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith(f'tools/test.py: error: checkpoint {path} holds non-finite '
                           f'weights: 2 tensors with NaN or infinite values, first {inf_name} (0 NaN, 2 inf of ')
    assert f'{nan_name} (1 NaN, 0 inf of ' in last and '"ner/f1"' not in r.stdout
    r = run_tool(['tools/infer.py', TEXT_CFG, path, '--text', 'Obama visits Paris'])
    assert r.returncode == 1 and r.stdout == ''
    assert r.stderr.strip().splitlines()[-1].startswith(
        f'tools/infer.py: error: checkpoint {path} holds non-finite weights')


PLAIN = '''import sys, torch
ckpt = torch.load(sys.argv[1], weights_only=False)  # our own file, trusted
ckpt.pop('rng_state')
torch.save(ckpt, sys.argv[2])  # as plain MMEngine pickles it: HistoryBuffer with its statistics functions
'''


@pytest.fixture(scope='module')
def plain_mmengine_checkpoint(tiny_mner_checkpoint, tmp_path_factory):
    """The tiny checkpoint written again by a process without pmu: no random states, and the message hub's
    HistoryBuffers pickled with their statistics functions (``getattr(HistoryBuffer, 'mean')``), as MMEngine
    writes them (safe loading refused such files before)."""
    import subprocess
    import sys
    path = str(tmp_path_factory.mktemp('plain') / 'plain.pth')
    subprocess.run([sys.executable, '-c', PLAIN, tiny_mner_checkpoint, path], check=True)
    with open(path, 'rb') as f:
        assert b'getattr' in f.read()
    return path


def test_a_plain_mmengine_checkpoint_loads_safely(plain_mmengine_checkpoint):
    from mmengine.logging.history_buffer import HistoryBuffer
    ckpt = load_checkpoint_file(plain_mmengine_checkpoint)
    assert 'rng_state' not in ckpt and ckpt['state_dict']
    buf = next(iter(ckpt['message_hub']['log_scalars'].values()))
    assert isinstance(buf, HistoryBuffer) and buf.statistics('mean') is not None


def test_getattr_other_than_history_buffer_statistics_is_refused(tmp_path):
    from mmengine.logging.history_buffer import HistoryBuffer

    class Lookup:
        def __reduce__(self):
            return (getattr, (HistoryBuffer, 'register_statistics'))
    path = str(tmp_path / 'lookup.pth')
    torch.save({'state_dict': {'w': torch.zeros(1)}, 'x': Lookup()}, path)
    with pytest.raises(UnsafeCheckpointError, match=r"getattr\(HistoryBuffer, 'register_statistics'\) is not allowed"):
        load_checkpoint_file(path)


@pytest.mark.slow
def test_test_tool_evaluates_a_plain_mmengine_checkpoint(plain_mmengine_checkpoint):
    r = run_tool(['tools/test.py', TEXT_CFG, plain_mmengine_checkpoint, '--cfg-options', *TINY])
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'missing in checkpoint: 0, unexpected: 0, shape mismatch (skipped): 0, partly loaded: 0' in r.stdout
    assert '"ner/f1"' in r.stdout.strip().splitlines()[-1]
