"""The CRF head: BIO-constrained decoding and forward-backward marginals, on the real pytorch-crf CRF."""
import itertools

import pytest
import torch

from pmu.models.heads import CRFTaggingHead
from pmu.structures import entity_spans

TAGS = ['O', 'B-PER', 'I-PER', 'B-LOC', 'I-LOC']


def _head(tags=TAGS, seed=0):
    torch.manual_seed(seed)
    head = CRFTaggingHead(in_channels=4, num_tags=len(TAGS), tags=tags)
    for p in (head.crf.start_transitions, head.crf.end_transitions, head.crf.transitions):
        torch.nn.init.normal_(p, std=1.0)
    return head.eval()


def _valid(path):
    """No orphan ``I-X``: each follows ``B-X`` or ``I-X``."""
    tags = [TAGS[i] for i in path]
    return all(not t.startswith('I-') or (k > 0 and tags[k - 1] in ('B-' + t[2:], t))
               for k, t in enumerate(tags))


def _brute_force(head, emissions, constrained):
    """All paths of a one-sentence ``[W, T]`` emission: (best path, marginals [W, T])."""
    crf = head.crf
    num_words, num_tags = emissions.shape
    scores = {}
    for path in itertools.product(range(num_tags), repeat=num_words):
        if constrained and not _valid(path):
            continue
        s = crf.start_transitions[path[0]] + emissions[0, path[0]] + crf.end_transitions[path[-1]]
        for k in range(1, num_words):
            s = s + crf.transitions[path[k - 1], path[k]] + emissions[k, path[k]]
        scores[path] = s
    paths = list(scores)
    probs = torch.stack([scores[p] for p in paths]).softmax(0)
    marg = torch.zeros(num_words, num_tags)
    for p, pr in zip(paths, probs):
        for k, t in enumerate(p):
            marg[k, t] += pr
    return list(max(scores, key=lambda p: scores[p])), marg


def test_unconstrained_viterbi_emits_orphan_i_and_constrained_one_does_not():
    head = _head()
    with torch.no_grad():
        head.crf.start_transitions.zero_()
        head.crf.transitions.zero_()
        head.crf.end_transitions.zero_()
    # word 0 strongly O, word 1 strongly I-PER: the best path over all paths is O, I-PER
    emissions = torch.tensor([[[5., 0., 0., 0., 0.], [0., 2., 4., 0., 0.], [3., 0., 0., 0., 0.]]])
    mask = torch.ones(1, 3, dtype=torch.bool)
    raw = head.crf.decode(emissions, mask=mask)[0]
    assert [TAGS[i] for i in raw] == ['O', 'I-PER', 'O']  # what the unconstrained decoder gives
    assert [TAGS[i] for i in head.decode(emissions, mask)[0]] == ['O', 'B-PER', 'O']
    # the same at the start of a sentence and after another type
    emissions = torch.tensor([[[0., 0., 4., 0., 0.], [0., 0., 0., 0., 4.]]])
    assert [TAGS[i] for i in head.crf.decode(emissions, mask=mask[:, :2])[0]] == ['I-PER', 'I-LOC']
    assert [TAGS[i] for i in head.decode(emissions, mask[:, :2])[0]] in (
        ['B-PER', 'B-LOC'], ['B-PER', 'I-PER'], ['B-LOC', 'I-LOC'])


def test_without_tags_decode_matches_pytorch_crf():
    head = _head(tags=None)
    torch.manual_seed(1)
    emissions = torch.randn(4, 7, len(TAGS)) * 3
    mask = torch.ones(4, 7, dtype=torch.bool)
    mask[1, 5:] = False
    mask[3, 1:] = False
    assert head.decode(emissions, mask) == head.crf.decode(emissions, mask=mask)


@pytest.mark.parametrize('constrained', [True, False])
def test_marginals_sum_to_one_and_match_brute_force(constrained):
    head = _head(tags=TAGS if constrained else None, seed=3)
    torch.manual_seed(4)
    emissions = torch.randn(2, 4, len(TAGS)) * 2
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]], dtype=torch.bool)
    marg = head.marginals(emissions, mask)
    paths = head.decode(emissions, mask)
    assert torch.allclose(marg.sum(-1), mask.float(), atol=1e-5)
    for b in range(2):
        n = int(mask[b].sum())
        with torch.no_grad():
            best, expected = _brute_force(head, emissions[b, :n], constrained)
        assert torch.allclose(marg[b, :n], expected, atol=1e-5)
        assert paths[b] == best
        if constrained:
            assert _valid(paths[b])
            assert marg[b, 0, [TAGS.index('I-PER'), TAGS.index('I-LOC')]].max() < 1e-6


def test_constrained_tags_and_entity_list_always_agree():
    head = _head(seed=5)
    torch.manual_seed(6)
    for _ in range(20):
        emissions = torch.randn(8, 12, len(TAGS)) * 4
        mask = torch.ones(8, 12, dtype=torch.bool)
        for path in head.decode(emissions, mask):
            tags = [TAGS[i] for i in path]
            covered = sorted(i for _, s, e in entity_spans(tags) for i in range(s, e))
            assert covered == [i for i, t in enumerate(tags) if t != 'O']


def test_tags_are_checked_and_constraints_are_not_saved():
    with pytest.raises(ValueError, match=r"tags\[1\] = 'PER'"):
        CRFTaggingHead(in_channels=4, num_tags=2, tags=['O', 'PER'])
    with pytest.raises(ValueError, match='num_tags is 3'):
        CRFTaggingHead(in_channels=4, num_tags=3, tags=['O', 'B-X'])
    keys = set(_head().state_dict())
    assert keys == set(_head(tags=None).state_dict())
    assert not any('allowed' in k for k in keys)
