"""Natural mistakes with the tools end in one line on stderr, ``tools/<tool>.py: error: ...``, naming what is
wrong and the fix, before the runner is built (nothing is written, no traceback); ``PMU_DEBUG=1`` shows the
traceback. Each runs the real tool, as a user does, from the repository root."""
import os
import subprocess
import sys

import pytest
import torch

from tests.conftest import REPO

TEXT_CFG = 'configs/mner/textonly_minilm_twitter2017.py'
PROMU_CFG = 'configs/mner/promu_minilm-effnet_twitter2017.py'
MRE_CFG = 'configs/mre/textonly_minilm_mnre.py'
TAGS = ['O', 'B-PER', 'I-PER', 'B-LOC', 'I-LOC', 'B-ORG', 'I-ORG', 'B-MISC', 'I-MISC']


def run(args, cwd=REPO, **env):
    environ = {k: v for k, v in os.environ.items() if k not in ('PMU_DEBUG', 'PMU_DATA_ROOT')}
    environ.update(OMP_NUM_THREADS='1', HF_HUB_OFFLINE='1', TRANSFORMERS_OFFLINE='1', **env)
    return subprocess.run([sys.executable, *args], cwd=cwd, env=environ, capture_output=True, text=True,
                          timeout=600)


def one_line(r, tool):
    """The single line of stderr of a tool stopped by a mistake (exit status 1)."""
    assert r.returncode == 1, r.stderr[-3000:]
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr[-3000:]
    assert lines[0].startswith(f'{tool}: error: ')
    return lines[0]


def test_wrong_config_path_names_the_closest_configs(tmp_path):
    r = run(['tools/train.py', 'configs/mner/textonly_minilm_twiter2017.py', '--work-dir', str(tmp_path / 'w')])
    line = one_line(r, 'tools/train.py')
    assert line.startswith('tools/train.py: error: config configs/mner/textonly_minilm_twiter2017.py not found; '
                           f'did you mean {TEXT_CFG} or ')
    assert not (tmp_path / 'w').exists()
    # PMU_DEBUG=1: the same error with its traceback
    r = run(['tools/train.py', 'configs/mner/textonly_minilm_twiter2017.py'], PMU_DEBUG='1')
    assert r.returncode == 1 and 'Traceback' in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith('pmu.utils.errors.ConfigNotFoundError: config ')


@pytest.mark.parametrize('option, message', [
    ('train_dataloader.batch_sise=8',
     "--cfg-options train_dataloader.batch_sise: train_dataloader (torch's DataLoader, built by MMEngine's Runner) "
     "takes no 'batch_sise'; did you mean 'batch_size'"),
    ('model.fusion.num_layer=2', "--cfg-options model.fusion.num_layer: model.fusion (SingleStreamFusion) takes no "
                                 "'num_layer'; did you mean 'num_layers'"),
    ('model.fusoin.num_layers=2', "--cfg-options model.fusoin.num_layers: model (MultimodalNER) takes no 'fusoin'; "
                                  "did you mean 'fusion'?"),
])
def test_misspelt_override_names_the_key_the_component_takes(option, message, tmp_path):
    r = run(['tools/train.py', PROMU_CFG, '--work-dir', str(tmp_path / 'w'), '--cfg-options', option])
    assert one_line(r, 'tools/train.py').startswith(f'tools/train.py: error: {message}')
    assert not (tmp_path / 'w').exists()


def _mner_checkpoint(path):
    """An MNER checkpoint as MMEngine's runner writes one: the dataset's tags in ``meta.dataset_meta``, the CRF
    head in the state dict."""
    state = {'head.crf.transitions': torch.zeros(9, 9), 'head.emission.weight': torch.zeros(9, 384)}
    torch.save(dict(meta=dict(dataset_meta=dict(tags=TAGS), experiment_name='textonly_minilm_twitter2017_'
                              '20261206_133434'), state_dict=state), path)
    return str(path)


def test_test_tool_says_the_checkpoint_is_of_another_task(tmp_path):
    ckpt = _mner_checkpoint(tmp_path / 'mner.pth')
    line = one_line(run(['tools/test.py', MRE_CFG, ckpt]), 'tools/test.py')
    assert line.startswith(f'tools/test.py: error: {ckpt} is an MNER checkpoint (its head has 9 tags: O, B-PER, '
                           'I-PER, B-LOC, I-LOC, ...; trained with config textonly_minilm_twitter2017), the config '
                           'builds an MRE model (MultimodalRE, 23 relations: None, ')
    assert 'give the checkpoint of a run of this config, or the config that trained it' in line


def test_infer_tool_says_the_checkpoint_is_of_another_task(tmp_path):
    ckpt = _mner_checkpoint(tmp_path / 'mner.pth')
    r = run(['tools/infer.py', MRE_CFG, ckpt, '--text', 'Obama visits Paris', '--head', 'Obama', '--tail', 'Paris'])
    assert one_line(r, 'tools/infer.py').startswith(f'tools/infer.py: error: {ckpt} is an MNER checkpoint')
    assert r.stdout == ''


def test_missing_data_root_is_named_before_the_runner(tmp_path):
    """From a folder with neither ./data nor ../shared/data, PMU_DATA_ROOT unset."""
    cwd = tmp_path / 'a' / 'b'
    cwd.mkdir(parents=True)
    r = run([os.path.join(REPO, 'tools/train.py'), os.path.join(REPO, TEXT_CFG), '--work-dir', str(tmp_path / 'w')],
            cwd=str(cwd))
    line = one_line(r, 'tools/train.py')
    assert line.startswith('tools/train.py: error: train_dataloader.dataset: no data root found: PMU_DATA_ROOT is not '
                           f'set and neither ./data nor ../shared/data exists in the current directory ({cwd})')
    assert 'set PMU_DATA_ROOT=' in line and not (tmp_path / 'w').exists()


def test_data_root_without_the_data_names_the_file_and_where_the_root_came_from(tmp_path):
    r = run(['tools/test.py', TEXT_CFG, _mner_checkpoint(tmp_path / 'mner.pth')], PMU_DATA_ROOT=str(tmp_path))
    line = one_line(r, 'tools/test.py')
    assert line.startswith(f'tools/test.py: error: test_dataloader.dataset.ann_file: {tmp_path}/twitter2017/'
                           f'valid.txt not found: twitter2017/valid.txt is not in the data root {tmp_path} '
                           '($PMU_DATA_ROOT).')
    assert '../shared/data' in line and 'PMU_DATA_ROOT' in line
