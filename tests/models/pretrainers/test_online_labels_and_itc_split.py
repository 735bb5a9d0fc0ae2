"""Online soft labels (the frozen teacher labels the student's view in each step) and the official ITC split
(the caption feature from the text-only layers below the fusion), on the real MiniLM + EfficientNet-lite0."""
import copy
import glob
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from pmu.models.pretrainers import crop_boxes, soft_pseudo_labels
from pmu.registry import MODELS
from tests.conftest import MINILM
from .test_promu_student import NUM_ENTITIES, NUM_RELATIONS, batch, student

ENCODERS = dict(text_encoder=dict(type='HFTextEncoder', name_or_path=MINILM),
                visual_encoder=dict(type='EfficientNetLiteEncoder'), text_pool='mean')
# the configs' normalisation, the same for student and teacher
PREPROCESSOR = dict(type='MultimodalDataPreprocessor', mean=[127.5] * 3, std=[127.5] * 3)


def teacher(**overrides):
    torch.manual_seed(3)
    return MODELS.build(dict(type='PromptTeacher', **ENCODERS, data_preprocessor=PREPROCESSOR, **overrides)).eval()


def online_student(image_size=(64, 64), tau=0.05, **overrides):
    """A lite student with ``label_source='online'`` and a (random-projection) teacher whose prompt
    features are random unit vectors."""
    model = student(label_source='online', data_preprocessor=PREPROCESSOR, **overrides)
    t = teacher()
    g = torch.Generator().manual_seed(4)
    ent = F.normalize(torch.randn(NUM_ENTITIES, 256, generator=g), dim=-1)
    rel = F.normalize(torch.randn(NUM_RELATIONS, 256, generator=g), dim=-1)
    model.set_online_teacher(t, ent, rel, tau=tau, image_size=image_size)
    return model, t, ent, rel


def _normalised(model, rgb: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float()
    return (x - model.data_preprocessor.mean) / model.data_preprocessor.std


@pytest.fixture(scope='module')
def photo(coco_mini):
    """A real COCO-mini train photo (uint8 RGB)."""
    path = sorted(glob.glob(osp.join(coco_mini, 'train2017', '*.jpg')))[0]
    return np.asarray(Image.open(path).convert('RGB'))


# ---- online labels -----------------------------------------------------------------------------------------------
def test_online_labels_follow_the_crop_the_student_sees(photo):
    """The same pair under two random crops gets two different CIR labels, each the teacher's label of that
    very crop; COE's label is the teacher's label of the box's region in the crop."""
    from pmu.datasets.transforms.augment import RandomResizedCropWithBoxes
    model, t, ent, rel = online_student(image_size=(32, 32))  # the teacher's input: 32x32
    H, W = photo.shape[:2]
    views = []
    for seed in (0, 1):
        import random
        random.seed(seed)
        out = RandomResizedCropWithBoxes(size=(64, 64), scale=(0.2, 0.4))(dict(
            img=photo, gt_boxes=np.array([[0, 0, W, H]], np.float32), gt_boxes_valid=np.array([True])))
        views.append(out)
    assert views[0]['crop'] != views[1]['crop']
    images = torch.cat([_normalised(model, v['img']) for v in views])
    boxes = torch.tensor([[[0.0, 0.0, 32.0, 32.0]]] * 2)  # the top-left quarter of each view
    labels = model._online_labels(images, boxes, torch.ones(2, 1, dtype=torch.bool))
    assert not torch.allclose(labels['cir'][0], labels['cir'][1], atol=1e-4)
    with torch.no_grad():
        whole = F.interpolate(images, size=(32, 32), mode='bilinear', align_corners=False, antialias=True)
        expected = F.softmax(t.encode_image(whole) @ rel.t() / 0.05, -1)
        torch.testing.assert_close(labels['cir'], expected, atol=1e-5, rtol=1e-4)
        # the box region: pixels [0, 32) of the view, at the teacher's input size as they are
        expected = F.softmax(t.encode_image(images[:, :, :32, :32]) @ ent.t() / 0.05, -1)
    torch.testing.assert_close(labels['coe'][:, 0], expected, atol=1e-4, rtol=1e-3)
    assert labels['cir_valid'].tolist() == (labels['cir'].max(-1).values >= 0.2).tolist()


def test_crop_boxes_copies_the_pixels_of_an_aligned_box():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8)
    out = crop_boxes(x, torch.tensor([1, 0]), torch.tensor([[2.0, 4.0, 6.0, 8.0], [0.0, 0.0, 8.0, 8.0]]), (4, 4))
    torch.testing.assert_close(out[0], x[1, :, 4:8, 2:6])
    torch.testing.assert_close(out[1], F.interpolate(x[:1], size=(4, 4), mode='bilinear', align_corners=False)[0])


def test_no_gradient_reaches_the_teacher_and_a_step_leaves_it_unchanged():
    model, t, _, _ = online_student()
    before = copy.deepcopy(t.state_dict())
    model.train()  # the runner's call: it must not reach the teacher
    assert not t.training and all(not p.requires_grad for p in t.parameters())
    # outside the module tree: not among the parameters (the optimizer), the state dict or a checkpoint
    teacher_ids = {id(p) for p in t.parameters()}
    assert not teacher_ids & {id(p) for p in model.parameters()}
    assert len(model.state_dict()) == len(student(label_source='online').state_dict())
    optim = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    losses = model.loss(*batch(model, coverage=(0.1, 0.3)))
    assert losses['loss_cir'].item() > 0 and losses['loss_coe'].item() > 0
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    optim.step()
    assert all(p.grad is None for p in t.parameters())
    assert _changed(model.cir_head) and _changed(model.fusion)  # the student did train
    for key, value in t.state_dict().items():
        assert torch.equal(value, before[key]), key


def _changed(module) -> bool:
    return any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())


def test_online_labels_skip_no_pair_for_its_crop_and_count_what_the_threshold_ignores():
    model, *_ = online_student(pseudo_labels=dict(threshold=0.0))
    losses = model.loss(*batch(model, coverage=(0.1, 0.3), box_valid=(True, False)))
    assert losses['cir_skipped_crop'].item() == 0.0 and losses['cir_labelled'].item() == 1.0
    assert losses['cir_below_threshold'].item() == 0.0
    assert losses['coe_labelled'].item() == 0.5  # the box the crop cut away gets no label, online too
    model.pseudo_labels['threshold'] = 1.01  # no probability reaches it: every label ignored, and counted
    losses = model.loss(*batch(model, coverage=(0.1, 0.3)))
    assert losses['cir_labelled'].item() == 0.0 and losses['cir_below_threshold'].item() == 1.0
    assert losses['coe_below_threshold'].item() == 1.0 and losses['loss_cir'].item() == 0.0
    # the offline student skips both small crops, and has no such count of them
    offline = student()
    assert offline.loss(*batch(offline, coverage=(0.1, 0.3)))['cir_skipped_crop'].item() == 1.0


def test_online_threshold_compares_the_probability():
    """A label whose largest probability is 0.3 is kept at threshold 0.25 and ignored at 0.35 (the
    official code compares the argmax index, which would keep it either way)."""
    model, t, ent, rel = online_student(tau=1.0)
    images = batch(model)[0]['images']
    with torch.no_grad():
        top = F.softmax(t.encode_image(images) @ rel.t(), -1).max(-1).values
    for threshold in (float(top.min()) - 1e-3, float(top.max()) + 1e-3):
        model.pseudo_labels['threshold'] = threshold
        labels = model._online_labels(images, None, None) if model.coe_head is None else \
            model._online_labels(images, torch.zeros(2, 1, 4), torch.zeros(2, 1, dtype=torch.bool))
        assert labels['cir_valid'].tolist() == (top >= threshold).tolist()
    # largest probability e / (e + 2) = 0.58 at index 0: ignored at threshold 0.6 (0 < 0.6 as an index)
    probs, valid = soft_pseudo_labels(torch.tensor([[1.0, 0.0, 0.0]]), tau=1.0, threshold=0.6)
    assert not valid.item() and probs.max().item() == pytest.approx(np.e / (np.e + 2))


def test_online_without_a_teacher_says_what_to_add():
    model = student(label_source='online')
    with pytest.raises(RuntimeError, match='SoftLabelHook'):
        model.loss(*batch(model))
    with pytest.raises(ValueError, match='label_source'):
        student(label_source='live')


# ---- the ITC split -----------------------------------------------------------------------------------------------
def _perturb(layer):
    with torch.no_grad():
        for p in layer.parameters():
            p.add_(torch.randn_like(p) * 0.5)


@pytest.mark.parametrize('layers, moved_by_upper', [('lower', False), ('all', True)])
def test_itc_text_feature_reads_the_lower_layers_with_the_official_split(layers, moved_by_upper):
    model = student(itm_head=None, coe_head=None, cir_head=None, itc_text_layers=layers).eval()
    inputs, samples = batch(model)
    ids, mask = inputs['input_ids'], inputs['attention_mask']
    with torch.no_grad():
        before = model.text_features(ids, mask)[1]
        loss_before = model.loss(inputs, samples)['loss_itc']
        _perturb(model.text_encoder.model.encoder.layer[5])  # an upper layer: the fusion's
        after = model.text_features(ids, mask)[1]
        assert (not torch.allclose(before, after, atol=1e-6)) == moved_by_upper
        assert (model.loss(inputs, samples)['loss_itc'].item() != loss_before.item()) == moved_by_upper
        if layers == 'lower':  # the lower layers' own states, pooled and projected
            lower = model.text_encoder.encode_layers(model.text_encoder.embed(ids), mask, 0, 4)
            m = mask.unsqueeze(-1).float()
            expected = F.normalize(model.text_proj((lower * m).sum(1) / m.sum(1)), dim=-1)
            torch.testing.assert_close(after, expected, atol=1e-5, rtol=1e-5)
            _perturb(model.text_encoder.model.encoder.layer[3])  # a lower layer moves it
            assert not torch.allclose(after, model.text_features(ids, mask)[1], atol=1e-6)


def test_teacher_itc_split_and_its_checks():
    t = teacher(itc_text_layers=4)
    with torch.no_grad():
        before = t.encode_text(['a dog on a sofa', 'two men play football'])
        _perturb(t.text_encoder.model.encoder.layer[4])
        torch.testing.assert_close(t.encode_text(['a dog on a sofa', 'two men play football']), before)
    full = teacher()
    with torch.no_grad():
        # the same weights: only the layers it reads differ
        full.load_state_dict(teacher().state_dict())
        assert not torch.allclose(full.encode_text(['a dog on a sofa']), teacher(itc_text_layers=4).encode_text(
            ['a dog on a sofa']), atol=1e-4)
    with pytest.raises(ValueError, match='needs a fusion'):
        teacher(itc_text_layers='lower')
    with pytest.raises(ValueError, match='layers below it'):
        student(itc_text_layers=3)  # the lite fusion splits MiniLM at 4
    assert student(itc_text_layers=4)._itc_lower == 4
    assert teacher(itc_text_layers=6)._itc_lower is None  # all 6: the whole encoder
