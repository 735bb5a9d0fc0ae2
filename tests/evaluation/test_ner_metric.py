import pytest

from pmu.evaluation import SeqevalNERMetric
from pmu.structures import PMUDataSample


def _sample(gold, pred, word_ids=None, words=None):
    s = PMUDataSample(metainfo=dict(
        words=words or [f'w{i}' for i in range(len(gold))],
        word_ids=word_ids or list(range(1, len(gold) + 1)),
        img_id='42'))
    s.gt_tags, s.pred_tags = gold, pred
    return s


def test_seqeval_strict_micro_and_per_type(tmp_path):
    out = tmp_path / 'pred.conll'
    metric = SeqevalNERMetric(out_file=str(out))
    metric.dataset_meta = {}
    samples = [
        # PER right; LOC predicted with wrong boundary (strict: wrong)
        _sample(['B-PER', 'I-PER', 'O', 'B-LOC', 'I-LOC'],
                ['B-PER', 'I-PER', 'O', 'B-LOC', 'O']),
        # ORG right; a spurious PER; an orphan I-PER in the prediction is no entity in strict IOB2
        _sample(['B-ORG', 'O', 'O', 'O'], ['B-ORG', 'B-PER', 'O', 'I-PER']),
    ]
    metric.process({}, [s.to_dict() for s in samples])  # as mmengine's Evaluator passes them
    res = metric.evaluate(len(samples))
    # gold: PER, LOC, ORG = 3; predicted: PER, LOC(short), ORG, PER = 4; correct: 2
    assert res['ner/precision'] == pytest.approx(50.0)
    assert res['ner/recall'] == pytest.approx(66.67)
    assert res['ner/f1'] == pytest.approx(57.14)
    assert list(res)[0] == 'ner/f1'  # save_best='auto' relies on this order
    assert res['ner/LOC/recall'] == 0 and res['ner/ORG/f1'] == 100
    assert res['ner/PER/precision'] == 50 and res['ner/PER/support'] == 1
    lines = out.read_text().splitlines()
    assert lines[0] == 'IMGID:42' and lines[1] == 'w0\tB-PER\tB-PER'
    assert lines[5] == 'w4\tI-LOC\tO'


def test_truncated_words_are_scored_as_O():
    metric = SeqevalNERMetric()
    metric.dataset_meta = {}
    # the last entity lies beyond max_length: the model predicted O there
    s = _sample(['B-PER', 'O', 'B-LOC'], ['B-PER', 'O', 'O'], word_ids=[1, 2, -1])
    metric.process({}, [s.to_dict()])
    res = metric.evaluate(1)
    assert res['ner/recall'] == 50.0 and res['ner/precision'] == 100.0
