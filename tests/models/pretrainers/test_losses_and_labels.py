"""ITC, ITM sampling, soft labels and their ignore mask, alignment losses and heads, box pooling, retrieval recall:
against hand computations."""
import math

import pytest
import torch
import torch.nn.functional as F

from pmu.evaluation.metrics.retrieval import retrieval_recall
from pmu.models.heads import ITMHead, SoftAlignmentHead
from pmu.models.losses import (
    HardCrossEntropyLoss,
    ImageTextContrastiveLoss,
    KLDivergenceLoss,
    SoftCrossEntropyLoss,
    sample_hard_negatives,
)
from pmu.models.pretrainers import box_grid_weights, soft_pseudo_labels
from pmu.models.pretrainers.alignment import grid_shape

# three pairs: two captions of image A (matched), one caption paired with image B but mismatched
IMAGES = [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
TEXTS = [[0.8, 0.6], [0.6, 0.8], [1.0, 0.0]]
IMAGE_IDS, TEXT_IMAGE_IDS = [7, 7, 9], [7, 7, -1]


def hand_itc(temp):
    def dot(a, b):
        return sum(x * y for x, y in zip(a, b))

    def nce(row_logits, positives):
        top = max(row_logits)  # log-sum-exp, stable at temperature 0.001
        log_z = top + math.log(sum(math.exp(v - top) for v in row_logits))
        return -sum(row_logits[j] - log_z for j in positives) / len(positives)

    # image rows 0, 1 (image A): positives are texts 0 and 1; row 2 (image B) has none
    i2t = [nce([dot(IMAGES[i], t) / temp for t in TEXTS], [0, 1]) for i in (0, 1)]
    # text rows 0, 1: positives are image columns 0 and 1 (both A); text 2 is mismatched: no row
    t2i = [nce([dot(TEXTS[j], im) / temp for im in IMAGES], [0, 1]) for j in (0, 1)]
    return (sum(i2t) / 2 + sum(t2i) / 2) / 2


def run_itc(loss):
    return loss(torch.tensor(IMAGES), torch.tensor(TEXTS), torch.tensor(IMAGE_IDS), torch.tensor(TEXT_IMAGE_IDS))


def test_itc_equals_hand_computation_only_matched_pairs_positive():
    loss = ImageTextContrastiveLoss(temperature=0.1, loss_weight=2.0)
    assert run_itc(loss).item() == pytest.approx(2.0 * hand_itc(0.1), rel=1e-5)


@pytest.mark.parametrize('init, clamped', [(5.0, 0.5), (1e-5, 0.001)])
def test_itc_temperature_is_clamped(init, clamped):
    loss = ImageTextContrastiveLoss(temperature=init)
    value = run_itc(loss)
    assert loss.temp.item() == pytest.approx(clamped)
    assert value.item() == pytest.approx(hand_itc(clamped), rel=1e-4)
    value.backward()  # the temperature stays learnable
    assert loss.temp.grad is not None


def test_hard_negatives_are_never_positives():
    sim = torch.tensor([[5.0, 4.9, 0.0, -1.0], [1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 9.0, 0.0]])
    positive = torch.tensor([[True, False, False, False], [True, True, True, True], [False, False, True, False]])
    torch.manual_seed(0)
    for _ in range(20):
        neg = sample_hard_negatives(sim, positive)
        assert neg[1] == -1
        assert not positive[0, neg[0]] and not positive[2, neg[2]]
    counts = torch.bincount(torch.stack([sample_hard_negatives(sim, positive)[0] for _ in range(200)]),
                            minlength=4)
    assert counts[1] > 150  # the most similar wrong caption is drawn most often


def test_ignore_mask_compares_the_probability_not_the_index():
    tau = 0.1
    # row 0: argmax index 7 (>= 0.2) but its probability is only 0.15 -> ignored
    p0 = torch.full((10, ), (1 - 0.15) / 9)
    p0[7] = 0.15
    # row 1: argmax index 0 (< 0.2) with probability 0.5 -> kept
    p1 = torch.full((10, ), 0.5 / 9)
    p1[0] = 0.5
    sim = tau * torch.log(torch.stack([p0, p1]))
    probs, valid = soft_pseudo_labels(sim, tau=tau, threshold=0.2)
    assert torch.allclose(probs, torch.stack([p0, p1]), atol=1e-6)
    assert valid.tolist() == [False, True]
    hard, valid_hard = soft_pseudo_labels(sim, tau=tau, threshold=0.2, hard=True)
    assert valid_hard.tolist() == [False, True]
    assert hard[1].tolist() == [1.0] + [0.0] * 9 and hard[0].argmax() == 7


# two labelled rows and an ignored one, over a vocabulary of three
ALIGN_LOGITS = [[2.0, 0.0, -1.0], [0.5, 0.5, 0.5], [0.0, 1.0, 3.0]]
ALIGN_TARGET = [[0.7, 0.2, 0.1], [0.0, 1.0, 0.0], [0.1, 0.6, 0.3]]
ALIGN_VALID = [True, False, True]


def _log_softmax(row):
    log_z = math.log(sum(math.exp(v) for v in row))
    return [v - log_z for v in row]


def _hand_alignment(kind):
    values = []
    for logits, target, ok in zip(ALIGN_LOGITS, ALIGN_TARGET, ALIGN_VALID):
        if not ok:
            continue
        logp = _log_softmax(logits)
        if kind == 'soft':
            values.append(-sum(t * lp for t, lp in zip(target, logp)))
        elif kind == 'kl':
            values.append(sum(t * (math.log(t) - lp) for t, lp in zip(target, logp) if t > 0))
        else:  # hard: the argmax of the target
            values.append(-logp[target.index(max(target))])
    return sum(values) / len(values)


@pytest.mark.parametrize('loss_type, kind', [(SoftCrossEntropyLoss, 'soft'), (KLDivergenceLoss, 'kl'),
                                             (HardCrossEntropyLoss, 'hard')])
def test_alignment_losses_equal_hand_computations_and_leave_ignored_rows_out(loss_type, kind):
    logits = torch.tensor(ALIGN_LOGITS, requires_grad=True)
    valid = torch.tensor(ALIGN_VALID)
    loss = loss_type(loss_weight=0.5)(logits, torch.tensor(ALIGN_TARGET), valid)
    assert loss.item() == pytest.approx(0.5 * _hand_alignment(kind), rel=1e-5)
    # the ignored row may hold anything
    other = torch.tensor(ALIGN_TARGET)
    other[1] = torch.tensor([1.0, 0.0, 0.0])
    assert loss_type(loss_weight=0.5)(logits, other, valid).item() == pytest.approx(loss.item())
    zero = loss_type()(logits, torch.tensor(ALIGN_TARGET), torch.zeros(3, dtype=torch.bool))
    zero.backward()
    assert zero.item() == 0 and logits.grad is not None  # still in the graph (DDP)


def test_kl_is_the_soft_cross_entropy_minus_the_targets_entropy():
    logits, target, valid = torch.randn(4, 6), torch.softmax(torch.randn(4, 6), -1), torch.ones(4, dtype=torch.bool)
    entropy = -(target * target.log()).sum(-1).mean()
    assert KLDivergenceLoss()(logits, target, valid).item() == pytest.approx(
        (SoftCrossEntropyLoss()(logits, target, valid) - entropy).item(), rel=1e-5)
    assert KLDivergenceLoss()(target.log(), target, valid).item() == pytest.approx(0.0, abs=1e-6)


def test_alignment_head_owns_its_loss_and_reports_agreement():
    torch.manual_seed(0)
    head = SoftAlignmentHead(in_channels=4, num_classes=3, name='cir',
                             loss=dict(type='HardCrossEntropyLoss', loss_weight=2.0))
    feats = torch.randn(3, 4)
    logits = head(feats).detach()
    pred = logits.argmax(-1)
    # row 0: target agrees with the head, row 1: ignored, row 2: disagrees
    target = torch.zeros(3, 3)
    target[0, pred[0]] = 0.6
    target[0, (pred[0] + 1) % 3] = 0.4
    target[1, (pred[1] + 1) % 3] = 1.0
    target[2, (pred[2] + 1) % 3] = 1.0
    valid = torch.tensor([True, False, True])
    out = head.loss(feats, target, valid)
    assert set(out) == {'loss_cir', 'cir_labelled', 'cir_agreement'}
    assert out['cir_labelled'].item() == pytest.approx(2 / 3) and out['cir_agreement'].item() == 0.5
    assert out['loss_cir'].item() == pytest.approx(
        2.0 * HardCrossEntropyLoss()(logits, target, valid).item(), rel=1e-5)
    assert torch.allclose(head.predict(feats).sum(-1), torch.ones(3))
    assert 'cir_agreement' not in head.loss(feats, target, torch.zeros(3, dtype=torch.bool))


def test_itm_head_owns_its_loss():
    torch.manual_seed(0)
    head = ITMHead(in_channels=4, loss=dict(type='ImageTextMatchingLoss', loss_weight=0.5))
    cls, labels = torch.randn(5, 4), torch.tensor([1, 0, 0, 1, 0])
    out = head.loss(cls, labels)
    logits = head(cls)
    assert out['loss_itm'].item() == pytest.approx(0.5 * F.cross_entropy(logits, labels).item(), rel=1e-6)
    assert out['itm_acc'].item() == pytest.approx((logits.argmax(1) == labels).float().mean().item())
    assert torch.allclose(head.predict(cls), logits.softmax(-1)[:, 1])


def test_box_grid_weights():
    boxes = torch.tensor([[56.0, 0.0, 168.0, 112.0], [0.0, 0.0, 224.0, 224.0], [300.0, 300.0, 310.0, 310.0]])
    w = box_grid_weights(boxes, (224, 224), (2, 2))
    assert torch.allclose(w[0], torch.tensor([0.5, 0.5, 0.0, 0.0]))
    assert torch.allclose(w[1], torch.full((4, ), 0.25))
    assert w[2].sum() == 0  # outside the image: no cell
    # on a 7x7 grid (EfficientNet at 224) one cell's box selects that cell (row 1, column 2)
    one = box_grid_weights(torch.tensor([[64.0, 32.0, 96.0, 64.0]]), (224, 224), (7, 7))
    assert one[0].argmax() == 1 * 7 + 2 and one[0].max() == pytest.approx(1.0)
    assert grid_shape(49, (224, 224)) == (7, 7) and grid_shape(196, (224, 224)) == (14, 14)


def test_retrieval_recall_by_hand():
    images = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    # captions 0, 1 describe image 0; caption 2 describes image 1 but looks like image 0
    texts = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]])
    r = retrieval_recall(images, texts, [0, 0, 1], ks=(1, 5))
    # t2i: caption 0 -> image 0 first (hit), caption 1 -> image 1 first (miss), caption 2 -> image 0 (miss)
    assert r['t2i_R@1'] == pytest.approx(100 / 3)
    # i2t: image 0 ranks caption 0 first (hit); image 1 ranks caption 1 (not its own) first: miss
    assert r['i2t_R@1'] == pytest.approx(50.0)
    assert r['t2i_R@5'] == r['i2t_R@5'] == 100.0


def test_entity_agreement_counts_objects_whose_class_is_in_the_vocabulary():
    from pmu.pseudo_labels.soft_labeler import entity_agreement
    vocab = ['dog', 'white truck', 'truck', 'man', 'kitchen']
    sim = torch.tensor([[[0.9, 0.1, 0.2, 0.0, 0.0]],    # dog -> dog: exact hit
                        [[0.0, 0.8, 0.7, 0.0, 0.0]],    # truck -> 'white truck': head-word hit, top-5 hit
                        [[0.0, 0.0, 0.0, 0.1, 0.9]],    # man -> kitchen: miss
                        [[0.9, 0.0, 0.0, 0.0, 0.0]]])   # 'giraffe' is not in the vocabulary: not counted
    images = [dict(gt_labels=[c]) for c in ('dog', 'truck', 'man', 'giraffe')]
    out = entity_agreement(sim, torch.ones(4, 1, dtype=torch.bool), images, vocab,
                           confident=torch.tensor([[True], [False], [True], [True]]))
    assert out['agreement_objects'] == 3 and out['objects'] == 4
    assert out['agreement'] == pytest.approx(1 / 3) and out['agreement_head'] == pytest.approx(2 / 3)
    assert out['agreement_top5'] == 1.0
    assert out['agreement_confident'] == pytest.approx(1 / 2) and out['agreement_confident_objects'] == 2


def test_label_temperature_from_the_teacher_is_its_clamped_itc_temperature():
    from pmu.pseudo_labels.soft_labeler import SoftPromptLabeler, teacher_temperature

    class Teacher(torch.nn.Module):
        def __init__(self, temperature):
            super().__init__()
            self.itc_loss = ImageTextContrastiveLoss(temperature=temperature)

    assert teacher_temperature(Teacher(0.05)) == pytest.approx(0.05)
    assert teacher_temperature(Teacher(2.0)) == pytest.approx(0.5)  # clamped as at every use in training
    with pytest.raises(ValueError, match='trained with ITC'):
        teacher_temperature(torch.nn.Module())
    with pytest.raises(ValueError, match="'teacher'"):
        SoftPromptLabeler('t.py', 'ckpt', 'e.txt', 'r.txt', tau='student')


def _gather_worker(rank, world, port, out):
    import os

    import torch.distributed as dist

    from pmu.models.losses import gather_features
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world)
    local = torch.full((rank + 1, 2), float(rank), requires_grad=True)  # 1 row on rank 0, 2 on rank 1
    full = gather_features(local)
    full.sum().backward()
    out[rank] = (full.detach().tolist(), local.grad.tolist())
    dist.destroy_process_group()


@pytest.mark.slow  # starts two processes (gloo)
def test_features_are_gathered_across_ranks_with_unequal_batches():
    import socket

    import torch.multiprocessing as mp
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    out = mp.Manager().dict()
    mp.spawn(_gather_worker, args=(2, port, out), nprocs=2)
    for rank in (0, 1):
        full, grad = out[rank]
        assert full == [[0.0, 0.0], [1.0, 1.0], [1.0, 1.0]]  # rank order, each rank's own rows
        assert grad == [[1.0, 1.0]] * (rank + 1)  # the gradient reaches this rank's rows
