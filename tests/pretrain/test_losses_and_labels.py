"""ITC, ITM sampling, soft labels and their ignore mask, box pooling, retrieval recall: against hand computations."""
import math

import pytest
import torch
import torch.nn.functional as F

from pmu.evaluation.metrics.retrieval import retrieval_recall
from pmu.models.losses import ImageTextContrastiveLoss, SoftLabelAlignmentLoss, sample_hard_negatives
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


def test_soft_label_loss_leaves_ignored_rows_out():
    logits = torch.randn(3, 5, requires_grad=True)
    target = F.softmax(torch.randn(3, 5), -1)
    valid = torch.tensor([True, False, True])
    loss = SoftLabelAlignmentLoss(loss_weight=0.5)(logits, target, valid)
    expected = -(target[[0, 2]] * F.log_softmax(logits[[0, 2]], -1)).sum(-1).mean() * 0.5
    assert loss.item() == pytest.approx(expected.item())
    zero = SoftLabelAlignmentLoss()(logits, target, torch.zeros(3, dtype=torch.bool))
    zero.backward()
    assert zero.item() == 0 and logits.grad is not None


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
    from pmu.engine.hooks.soft_labels import entity_agreement
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
