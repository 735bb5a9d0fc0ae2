"""The soft-label settings have one place of defaults, ``DEFAULT_PSEUDO_LABELS``: configs set only what
differs from it, and the model, the labeler and the grounding API read the model's merged settings."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from pmu.models.pretrainers import DEFAULT_PSEUDO_LABELS
from tests.conftest import MINILM, REPO

PRETRAIN_CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', 'pretrain', 'promu_*.py')))


@pytest.mark.parametrize('config', PRETRAIN_CONFIGS, ids=osp.basename)
def test_configs_set_only_what_differs_from_the_defaults(config):
    settings = Config.fromfile(config).model.get('pseudo_labels') or {}
    unknown = set(settings) - set(DEFAULT_PSEUDO_LABELS)
    assert not unknown, f'{config}: model.pseudo_labels has unknown keys {sorted(unknown)}'
    restated = [k for k, v in settings.items() if v == DEFAULT_PSEUDO_LABELS[k]]
    assert not restated, f'{config}: model.pseudo_labels restates the default of {restated}'


def test_the_ablations_change_one_setting_each():
    def settings(name):
        return dict(Config.fromfile(osp.join(REPO, 'configs', 'pretrain', name)).model.pseudo_labels)
    assert settings('promu_minilm-effnet_coco-mini.py') == {}
    assert settings('promu_minilm-effnet_coco-mini_tau0.05.py') == {'tau': 0.05}
    assert settings('promu_minilm-effnet_coco-mini_tau-teacher.py') == {'tau': 'teacher'}
    assert settings('promu_minilm-effnet_coco-mini_hard-labels.py') == {'hard': True}


def _student(**pseudo_labels):
    from pmu.registry import MODELS
    return MODELS.build(dict(type='PromuPretrainer', text_encoder=dict(type='HFTextEncoder', name_or_path=MINILM),
                             visual_encoder=dict(type='EfficientNetLiteEncoder'),
                             fusion=dict(type='SingleStreamFusion', num_layers=2), itm_head=None, coe_head=None,
                             cir_head=None, pseudo_labels=pseudo_labels))


def test_the_model_merges_the_config_into_the_defaults_and_names_a_misspelt_key():
    model = _student(tau=0.05)
    assert model.pseudo_labels == dict(DEFAULT_PSEUDO_LABELS, tau=0.05)
    assert DEFAULT_PSEUDO_LABELS['tau'] != 0.05  # the defaults are not changed by a model
    with pytest.raises(ValueError, match=r"model\.pseudo_labels: unknown key 'treshold' \(did you mean "
                                         r"'threshold'\?\)"):
        _student(treshold=0.1)
