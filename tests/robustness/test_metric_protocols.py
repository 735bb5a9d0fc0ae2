"""The NER metric's two protocols on hand-made tag sequences where they differ: conlleval (seqeval's
default mode, what UMT, HVPNeT and MKGformer report) under ``ner/*``, strict IOB2 under ``ner/strict/*``."""
from pmu.evaluation import SeqevalNERMetric
from pmu.structures import PMUDataSample


def _evaluate(pairs):
    metric = SeqevalNERMetric()
    metric.dataset_meta = {}
    samples = []
    for gold, pred in pairs:
        s = PMUDataSample(metainfo=dict(words=[f'w{i}' for i in range(len(gold))],
                                        word_ids=list(range(1, len(gold) + 1)), img_id=None))
        s.gt_tags, s.pred_tags = gold, pred
        samples.append(s.to_dict())
    metric.process({}, samples)
    return metric.evaluate(len(samples))


def test_orphan_i_predictions_count_under_conlleval_only(mmlog):
    res = _evaluate([
        # an orphan I-PER that matches a gold PER: right under conlleval, missed under strict
        (['O', 'B-PER', 'I-PER', 'O'], ['O', 'I-PER', 'I-PER', 'O']),
        # an orphan I-LOC where there is none: spurious under conlleval, ignored under strict
        (['B-ORG', 'O', 'O'], ['B-ORG', 'O', 'I-LOC']),
    ])
    # conlleval: gold PER, ORG; predicted PER, ORG, LOC: P 2/3, R 2/2
    assert (res['ner/precision'], res['ner/recall'], res['ner/f1']) == (66.67, 100.0, 80.0)
    # strict: predicted ORG only: P 1/1, R 1/2
    assert (res['ner/strict/precision'], res['ner/strict/recall'], res['ner/strict/f1']) == (100.0, 50.0, 66.67)
    assert list(res)[0] == 'ner/f1'
    assert (res['ner/PER/f1'], res['ner/LOC/precision'], res['ner/ORG/f1']) == (100.0, 0.0, 100.0)
    assert sorted(k for k in res if k.startswith('ner/strict/')) == [
        'ner/strict/f1', 'ner/strict/precision', 'ner/strict/recall']
    assert any(line.startswith('ner/f1 = 80.00: conlleval protocol') and 'ner/strict/f1 = 66.67: seqeval strict mode'
               in line for line in mmlog.lines)


def test_type_change_inside_an_entity(mmlog):
    # B-PER I-LOC: conlleval reads PER(0) and LOC(1); strict IOB2 reads PER(0) only
    res = _evaluate([(['B-PER', 'I-PER'], ['B-PER', 'I-LOC'])])
    assert (res['ner/precision'], res['ner/recall'], res['ner/f1']) == (0.0, 0.0, 0.0)
    assert (res['ner/strict/precision'], res['ner/strict/recall'], res['ner/strict/f1']) == (0.0, 0.0, 0.0)
    res = _evaluate([(['B-PER', 'B-LOC'], ['B-PER', 'I-LOC'])])
    assert (res['ner/precision'], res['ner/recall']) == (100.0, 100.0)
    assert (res['ner/strict/precision'], res['ner/strict/recall'], res['ner/strict/f1']) == (100.0, 50.0, 66.67)
