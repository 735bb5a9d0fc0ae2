import os.path as osp

import pytest
import torch
from mmengine.dataset import pseudo_collate

from pmu.apis.config import load_complete_config
from pmu.datasets import MNREDataset
from pmu.datasets.transforms import ENTITY_MARKERS
from pmu.registry import MODELS
from pmu.utils import build_tokenizer
from tests.conftest import REPO

MARKERS = ENTITY_MARKERS  # configs/_base_/datasets/mnre.py's entity_markers


def _model_and_batch(name, mnre_root, n=8):
    cfg = load_complete_config(osp.join(REPO, 'configs', 'mre', name))
    model = MODELS.build(cfg.model)
    model.init_weights()
    ds_cfg = dict(cfg.val_dataloader.dataset)
    ds_cfg.pop('type')
    for t in ds_cfg['pipeline']:
        if t['type'] == 'LoadImage':
            t['size'] = (64, 64)  # small images keep the test quick on CPU
    ds_cfg.update(data_root=mnre_root, indices=n)
    ds = MNREDataset(**ds_cfg)
    # the first 7 MNRE validation instances have their image offline, the rest do not
    batch = model.data_preprocessor(pseudo_collate([ds[i] for i in range(n)]), training=True)
    return cfg, model, batch


@pytest.fixture(scope='module')
def textonly(mnre_root):
    return _model_and_batch('textonly_minilm_mnre.py', mnre_root, n=8)


@pytest.mark.parametrize('name', [
    pytest.param('promu_minilm-effnet_mnre.py', marks=pytest.mark.slow), 'textonly_minilm_mnre.py'])
def test_three_modes_on_real_instances(name, mnre_root, textonly):
    torch.manual_seed(0)
    if name.startswith('promu'):
        cfg, model, batch = _model_and_batch(name, mnre_root)
    else:
        cfg, model, batch = textonly
    inputs, samples = batch['inputs'], batch['data_samples']
    if name.startswith('promu'):
        assert inputs['has_image'].tolist() == [True] * 7 + [False]
        assert inputs['images'].shape == (7, 3, 64, 64)
    # the markers are tokens of their own with embeddings of their own
    assert tuple(cfg.entity_markers) == MARKERS
    tok = build_tokenizer(cfg.model.text_encoder.name_or_path, MARKERS)
    emb = model.text_encoder.model.get_input_embeddings()
    assert emb.num_embeddings == len(tok) == 30522 + 4

    model.train()
    losses = model(inputs, samples, mode='loss')
    assert list(losses) == ['loss_rel'] and torch.isfinite(losses['loss_rel'])
    if name.startswith('textonly'):  # backward through EfficientNet is slow on a busy CPU
        losses['loss_rel'].backward()
        marker_ids = tok.convert_tokens_to_ids(list(MARKERS))
        assert emb.weight.grad[marker_ids[0]].abs().sum() > 0  # the head opening marker is read by the head
        assert emb.weight.grad[marker_ids[2]].abs().sum() > 0  # the tail's as well
        model.zero_grad()

    model.eval()
    with torch.no_grad():
        logits = model(inputs, samples, mode='tensor')
        out = model(inputs, samples, mode='predict')
    assert logits.shape == (8, 23)
    for s, row in zip(out, logits):
        assert s.pred_relation in cfg.model.relations
        assert s.pred_scores.sum() == pytest.approx(1, abs=1e-5)
        assert s.pred_relation == cfg.model.relations[int(row.argmax())]


def test_head_and_tail_states_are_read_at_the_opening_markers(textonly):
    cfg, model, batch = textonly
    model.eval()
    inputs, samples = batch['inputs'], batch['data_samples']
    with torch.no_grad():
        fused = model.extract_feat(inputs)
        head, tail = model.entity_features(inputs, samples)
    ids = inputs['input_ids']
    tok = build_tokenizer(cfg.model.text_encoder.name_or_path, MARKERS)
    for b, s in enumerate(samples):
        h, t = s.word_ids[s.head_marker], s.word_ids[s.tail_marker]
        assert tok.convert_ids_to_tokens([int(ids[b, h]), int(ids[b, t])]) == [MARKERS[0], MARKERS[2]]
        assert torch.equal(head[b], fused[b, h]) and torch.equal(tail[b], fused[b, t])


def test_unknown_gold_relation_is_a_clear_error(textonly):
    _, model, batch = textonly
    samples = [s.clone() for s in batch['data_samples']]
    samples[0].gt_relation = '/per/per/friend'
    with pytest.raises(ValueError, match="'/per/per/friend' is not in model.relations"):
        model(batch['inputs'], samples, mode='loss')
