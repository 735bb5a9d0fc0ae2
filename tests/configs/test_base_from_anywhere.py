"""A config in any folder can build on pmu's configs: ``_base_ = ['pmu::mner/...']``."""
import os.path as osp

import pytest

from pmu.apis.config import load_complete_config
from pmu.utils.config_path import load_config
from tests.conftest import REPO, write


def test_a_config_outside_the_checkout_builds_on_pmus_configs(tmp_path, monkeypatch):
    folder = tmp_path / 'my'
    write(folder / 'local_base.py', "note = 'a base next to the config'\n")
    write(folder / 'my_config.py', """
_base_ = ['pmu::mner/textonly_minilm_twitter2017.py', './local_base.py']
work_dir = '{{ fileDirname }}/work_dirs/{{ fileBasenameNoExtension }}'
model = dict(head=dict(dropout=0.2))
""")
    monkeypatch.chdir(tmp_path)  # neither the checkout nor the config's folder
    cfg = load_complete_config(osp.join('my', 'my_config.py'), {'train_cfg.max_epochs': 1})
    assert cfg.filename == osp.join('my', 'my_config.py')
    assert cfg.work_dir == osp.join('my', 'work_dirs', 'my_config')  # {{ fileDirname }}: its own, as MMEngine's
    assert cfg.note == 'a base next to the config'
    # pmu's config, overridden, and completed as any of pmu's
    assert cfg.model.head == dict(type='CRFTaggingHead', dropout=0.2)
    assert cfg.model.tags[:3] == ['O', 'B-PER', 'I-PER']
    assert cfg.train_cfg.max_epochs == 1 and cfg.train_cfg.type == 'ResumableEpochBasedTrainLoop'
    assert [s['type'] for s in cfg.train_dataloader.dataset.pipeline][0] == 'TokenizeWords'


def test_a_config_without_pmu_bases_loads_as_mmengine_loads_it(tmp_path):
    from mmengine.config import Config
    path = write(tmp_path / 'plain.py', f"_base_ = ['{REPO}/configs/mner/textonly_minilm_twitter2017.py']\n")
    assert load_config(path).pretty_text == Config.fromfile(path).pretty_text


def test_an_unknown_pmu_config_is_named(tmp_path):
    path = write(tmp_path / 'typo.py', "_base_ = ['pmu::mner/textonly_minilm_twiter2017.py']\n")
    with pytest.raises(FileNotFoundError, match="No config 'mner/textonly_minilm_twiter2017.py'"):
        load_config(path)
