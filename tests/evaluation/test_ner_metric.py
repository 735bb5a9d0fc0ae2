
from pmu.evaluation import SeqevalNERMetric
from pmu.structures import PMUDataSample


def _sample(gold, pred, word_ids=None, words=None):
    s = PMUDataSample(metainfo=dict(
        words=words or [f'w{i}' for i in range(len(gold))],
        word_ids=word_ids or list(range(1, len(gold) + 1)),
        img_id='42'))
    s.gt_tags, s.pred_tags = gold, pred
    return s


def test_conlleval_first_and_strict_beside_it_micro_and_per_type(tmp_path, mmlog):
    out = tmp_path / 'pred.conll'
    metric = SeqevalNERMetric(out_file=str(out))
    metric.dataset_meta = {}
    samples = [
        # PER right; LOC predicted with wrong boundary (wrong in both modes)
        _sample(['B-PER', 'I-PER', 'O', 'B-LOC', 'I-LOC'],
                ['B-PER', 'I-PER', 'O', 'B-LOC', 'O']),
        # ORG right; a spurious PER; an orphan I-PER: an entity under conlleval, none under strict IOB2
        _sample(['B-ORG', 'O', 'O', 'O'], ['B-ORG', 'B-PER', 'O', 'I-PER']),
    ]
    metric.process({}, [s.to_dict() for s in samples])  # as mmengine's Evaluator passes them
    res = metric.evaluate(len(samples))
    # gold: PER, LOC, ORG = 3; correct: 2 in both modes
    # conlleval predicts PER, LOC(short), ORG, PER, PER(orphan) = 5: P 2/5, R 2/3, F1 0.5
    assert res['ner/precision'] == 40.0
    assert res['ner/recall'] == 66.67
    assert res['ner/f1'] == 50.0
    # strict IOB2 drops the orphan: 4 predicted, P 2/4, R 2/3, F1 4/7
    assert res['ner/strict/precision'] == 50.0
    assert res['ner/strict/recall'] == 66.67
    assert res['ner/strict/f1'] == 57.14
    assert list(res)[0] == 'ner/f1'  # save_best='auto' relies on this order
    # per type under conlleval: PER predicted 3 times, right once
    assert res['ner/LOC/recall'] == 0 and res['ner/ORG/f1'] == 100
    assert res['ner/PER/precision'] == 33.33 and res['ner/PER/support'] == 1 and res['ner/PER/f1'] == 50.0
    assert ('ner/f1 = 50.00: conlleval protocol (seqeval default mode, as UMT, HVPNeT, MKGformer report; '
            'also the per-type scores); ner/strict/f1 = 57.14: seqeval strict mode, IOB2') in '\n'.join(mmlog.lines)
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


def test_orphan_i_in_gold_is_an_entity_only_under_conlleval():
    metric = SeqevalNERMetric()
    metric.dataset_meta = {}
    # a gold orphan I-LOC (orphan_i='keep'), predicted as B-LOC: conlleval matches it, strict has no gold entity
    s = _sample(['O', 'I-LOC', 'O', 'B-PER'], ['O', 'B-LOC', 'O', 'B-PER'])
    metric.process({}, [s.to_dict()])
    res = metric.evaluate(1)
    assert (res['ner/precision'], res['ner/recall'], res['ner/f1']) == (100.0, 100.0, 100.0)
    assert (res['ner/strict/precision'], res['ner/strict/recall'], res['ner/strict/f1']) == (50.0, 100.0, 66.67)
    assert res['ner/LOC/support'] == 1


def test_identical_protocols_on_valid_iob2():
    metric = SeqevalNERMetric()
    metric.dataset_meta = {}
    s = _sample(['B-PER', 'I-PER', 'O', 'B-LOC'], ['B-PER', 'O', 'O', 'B-LOC'])
    metric.process({}, [s.to_dict()])
    res = metric.evaluate(1)
    for k in ('f1', 'precision', 'recall'):
        assert res[f'ner/{k}'] == res[f'ner/strict/{k}']
    assert res['ner/f1'] == 50.0
