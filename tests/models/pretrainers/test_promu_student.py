"""PROMU's student on the real MiniLM + EfficientNet-lite0: where each objective reads, what it trains, its switches."""
import numpy as np
import pytest
import torch

from pmu.models.fusion import FusionOutput
from pmu.models.pretrainers import box_grid_weights
from pmu.registry import MODELS
from pmu.structures import PMUDataSample
from tests.conftest import MINILM

NUM_ENTITIES, NUM_RELATIONS = 7, 5
HEAD = dict(type='SoftAlignmentHead', loss=dict(type='SoftCrossEntropyLoss'))
CAPTIONS = ['a brown dog sleeps on a red sofa', 'two men play football on a green field']


def student(**overrides):
    """A lite student (MiniLM-L6, EfficientNet-lite0, PROMU's fusion over MiniLM's upper 2 layers)."""
    torch.manual_seed(0)
    cfg = dict(type='PromuPretrainer', text_encoder=dict(type='HFTextEncoder', name_or_path=MINILM),
               visual_encoder=dict(type='EfficientNetLiteEncoder'),
               fusion=dict(type='SingleStreamFusion', num_layers=2), text_pool='mean',
               itm_head=dict(type='ITMHead'), coe_head=HEAD, cir_head=HEAD,
               entity_vocab=NUM_ENTITIES, relation_vocab=NUM_RELATIONS)
    cfg.update(overrides)
    model = MODELS.build(cfg)
    g = torch.Generator().manual_seed(1)
    model.set_soft_labels({'/img/a.jpg': 0, '/img/b.jpg': 1},
                          torch.softmax(torch.randn(2, 1, NUM_ENTITIES, generator=g), -1),
                          torch.ones(2, 1, dtype=torch.bool),
                          torch.softmax(torch.randn(2, NUM_RELATIONS, generator=g), -1),
                          torch.ones(2, dtype=torch.bool))
    return model


def batch(model, match=(True, True), coverage=(1.0, 1.0), box_valid=(True, True)):
    """Two pairs (64x64 images: a 2x2 grid of EfficientNet tokens), one object box each."""
    enc = model.text_encoder.tokenizer(CAPTIONS, padding=True, return_tensors='pt')
    images = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    samples = []
    for path, m, c, ok in zip(('/img/a.jpg', '/img/b.jpg'), match, coverage, box_valid):
        s = PMUDataSample(metainfo=dict(img_path=path, match=m, crop_coverage=c))
        s.gt_boxes = np.array([[0.0, 0.0, 40.0, 30.0]], np.float32)
        s.gt_boxes_valid = np.array([ok])
        samples.append(s)
    inputs = dict(input_ids=enc['input_ids'], attention_mask=enc['attention_mask'], images=images,
                  has_image=torch.ones(2, dtype=torch.bool))
    return inputs, samples


def _has_grad(module) -> bool:
    return any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())


@pytest.mark.parametrize('objective, source', [('coe', 'cls'), ('cir', 'cls'), ('cir', 'visual_mean')])
def test_coe_and_cir_train_the_fusion_layers_and_the_text_encoder(objective, source):
    """COE/CIR alone, back-propagated: the fusion (MiniLM's layers 4 and 5), the lower text layers,
    the embeddings and the visual encoder all get gradients: they read the fused states."""
    model = student(itc_loss=None, itm_head=None, cir_source=source,
                    coe_head=HEAD if objective == 'coe' else None, cir_head=HEAD if objective == 'cir' else None)
    model.train()
    losses = model.loss(*batch(model))
    assert {k for k in losses if k.startswith('loss')} == {f'loss_{objective}'}
    losses[f'loss_{objective}'].backward()
    layers = model.text_encoder.model.encoder.layer
    parts = {'fusion layer 4': layers[4], 'fusion layer 5': layers[5], 'lower layer 0': layers[0],
             'lower layer 3': layers[3], 'embeddings': model.text_encoder.model.embeddings,
             'visual projection': model.fusion.visual_proj, 'visual encoder': model.visual_encoder,
             'head': getattr(model, f'{objective}_head')}
    assert [name for name, m in parts.items() if not _has_grad(m)] == []


def test_itc_reads_the_text_encoder_alone_and_the_image_global_token():
    model = student(itm_head=None, coe_head=None, cir_head=None).eval()
    inputs, samples = batch(model)
    ids, mask = inputs['input_ids'], inputs['attention_mask']
    with torch.no_grad():
        states, text_feat = model.text_features(ids, mask)
        alone = model.text_encoder(ids, mask)
        torch.testing.assert_close(states, alone, atol=1e-5, rtol=1e-5)  # no image, no fusion
        m = mask.unsqueeze(-1).float()
        pooled = (alone * m).sum(1) / m.sum(1)
        torch.testing.assert_close(text_feat, torch.nn.functional.normalize(model.text_proj(pooled), dim=-1),
                                   atol=1e-5, rtol=1e-5)
        losses = model.loss(inputs, samples)
        image_feat = model.encode_image(inputs['images'])
        ids_t = torch.tensor([0, 1])
        expected = model.itc_loss(image_feat, text_feat, ids_t, ids_t)
    assert set(losses) == {'loss_itc', 'itc_temp'}
    assert losses['loss_itc'].item() == pytest.approx(expected.item(), rel=1e-5)


def test_predict_encodes_each_distinct_image_once_and_gives_every_caption_its_own_images_feature():
    """A retrieval split pairs one image with several captions: predict encodes it once, and its
    features are those of encoding every pair on its own; a second view of the same file (other
    pixels, as an augmentation gives) is encoded apart."""
    model = student(itm_head=None, coe_head=None, cir_head=None).eval()
    enc = model.text_encoder.tokenizer(CAPTIONS * 2, padding=True, return_tensors='pt')
    g = torch.Generator().manual_seed(3)
    a, b = torch.randn(3, 64, 64, generator=g), torch.randn(3, 64, 64, generator=g)
    images = torch.stack([a, b, a, a.flip(-1)])  # the last: another view of a.jpg
    paths = ['/img/a.jpg', '/img/b.jpg', '/img/a.jpg', '/img/a.jpg']
    samples = [PMUDataSample(metainfo=dict(img_path=p, match=True)) for p in paths]
    inputs = dict(input_ids=enc['input_ids'], attention_mask=enc['attention_mask'], images=images,
                  has_image=torch.ones(4, dtype=torch.bool))
    encoded = []
    hook = model.visual_encoder.register_forward_hook(lambda m, args, out: encoded.append(len(args[0])))
    with torch.no_grad():
        out = model.predict(inputs, samples)
    hook.remove()
    assert encoded == [3]
    with torch.no_grad():
        alone = model.encode_image(images)
        _, text = model.text_features(inputs['input_ids'], inputs['attention_mask'])
    torch.testing.assert_close(torch.stack([s.pred_image_feat for s in out]), alone, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(torch.stack([s.pred_text_feat for s in out]), text, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(out[3].pred_image_feat, out[0].pred_image_feat)


def _fused(model, inputs, i):
    """Pair ``i`` fused with its own image, as a hand computation."""
    ids, mask = inputs['input_ids'][i:i + 1], inputs['attention_mask'][i:i + 1]
    visual = model.visual_encoder(inputs['images'][i:i + 1])
    return model.fusion(model.text_encoder, ids, mask, visual, torch.ones(1, dtype=torch.bool))


@pytest.mark.parametrize('source', ['cls', 'visual_mean'])
def test_alignment_reads_the_matched_pairs_fused_forward_and_skips_mismatched_pairs(source):
    model = student(itc_loss=None, cir_source=source).eval()
    inputs, samples = batch(model, match=(True, False))
    with torch.no_grad():
        losses = model.loss(inputs, samples)
        fused: FusionOutput = _fused(model, inputs, 0)  # only pair 0 is matched
        cir_feat = fused.text[:, 0] if source == 'cls' else fused.visual.mean(1)
        labels = model.soft_labels
        cir = model.cir_head.loss_align(model.cir_head(cir_feat), labels['cir'][:1].float(),
                                        torch.tensor([True]))
        weights = box_grid_weights(torch.tensor([[0.0, 0.0, 40.0, 30.0]]), (64, 64), (2, 2))  # [1, 4]
        # the box covers the top-left cell fully and parts of the next ones
        assert weights[0].tolist() == pytest.approx([32 * 30 / 1200, 8 * 30 / 1200, 0.0, 0.0])
        region = weights @ fused.visual[0, 1:]  # the fused grid tokens (not the projected encoder output)
        coe = model.coe_head.loss_align(model.coe_head(region), labels['coe'][0].float(), torch.tensor([True]))
    assert losses['loss_cir'].item() == pytest.approx(cir.item(), rel=1e-4)
    assert losses['loss_coe'].item() == pytest.approx(coe.item(), rel=1e-4)
    assert losses['align_skipped_mismatched'].item() == 0.5
    assert losses['cir_labelled'].item() == 1.0 and losses['coe_labelled'].item() == 1.0  # of the 1 matched row
    assert 'loss_itm' in losses


def test_cir_skips_small_crops_and_coe_skips_boxes_cut_away():
    model = student(itc_loss=None, itm_head=None)
    losses = model.loss(*batch(model, coverage=(0.3, 0.8), box_valid=(True, False)))
    assert losses['cir_skipped_crop'].item() == 0.5 and losses['cir_labelled'].item() == 0.5
    assert losses['coe_labelled'].item() == 0.5  # the box the crop cut away has no COE label
    model.cir_min_coverage = 0.2
    assert model.loss(*batch(model, coverage=(0.3, 0.8)))['cir_skipped_crop'].item() == 0.0
    # nothing labelled at all: zero losses that still reach the heads (DDP)
    losses = model.loss(*batch(model, coverage=(0.1, 0.1), box_valid=(False, False)))
    assert losses['loss_cir'].item() == 0 and losses['loss_coe'].item() == 0
    assert 'cir_agreement' not in losses and 'coe_agreement' not in losses


def test_a_batch_without_matched_pairs_gives_zero_alignment_losses():
    model = student(itc_loss=None, itm_head=None)
    losses = model.loss(*batch(model, match=(False, False)))
    assert losses['loss_coe'].item() == 0 and losses['loss_cir'].item() == 0
    assert losses['align_skipped_mismatched'].item() == 1.0


@pytest.mark.parametrize('itc, hard, mined', [(True, True, True), (True, False, False), (False, True, False)])
def test_itm_negatives_are_mined_from_itc_only_when_both_are_on(itc, hard, mined, monkeypatch):
    import pmu.models.pretrainers.promu as promu
    seen = []
    real = promu.sample_hard_negatives

    def spy(sim, positive, generator=None):
        seen.append(sim.clone())
        return real(sim, positive, generator)

    monkeypatch.setattr(promu, 'sample_hard_negatives', spy)
    overrides = dict(coe_head=None, cir_head=None, itm_hard_negatives=hard)
    if not itc:
        overrides['itc_loss'] = None
    model = student(**overrides)
    losses = model.loss(*batch(model))
    assert ('loss_itc' in losses) == itc and 'loss_itm' in losses and 0 <= losses['itm_acc'] <= 1
    assert len(seen) == 2 and all(bool((s != 0).any()) == mined for s in seen)
    if not itc:
        assert model.text_proj is None and model.vision_proj is None
        with pytest.raises(RuntimeError, match='no ITC features'):
            model.predict(*batch(model))


def test_switches_are_checked():
    with pytest.raises(ValueError, match='cir_source'):
        student(cir_source='pooler')
    with pytest.raises(ValueError, match='no objective left'):
        student(itc_loss=None, itm_head=None, coe_head=None, cir_head=None)
    with pytest.raises(ValueError, match='need a fusion'):
        student(fusion=None)
    model = student(coe_head=dict(HEAD, loss=dict(type='KLDivergenceLoss', loss_weight=0.5)))
    assert type(model.coe_head.loss_align).__name__ == 'KLDivergenceLoss'
    assert model.coe_head.num_classes == NUM_ENTITIES and model.cir_head.num_classes == NUM_RELATIONS
    assert model.itm_head.fc.in_features == model.text_encoder.hidden_size == 384
