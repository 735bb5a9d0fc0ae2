import ast
import json
import os.path as osp
import random

import pytest
import torch
from sklearn.metrics import classification_report

from pmu.evaluation.metrics import RelationMetric
from pmu.evaluation.metrics.re_metric import relation_scores
from pmu.structures import PMUDataSample
from tests.conftest import MNRE_FILES, require_real_data

PEER, MEMBER, RACE = '/per/per/peer', '/per/org/member_of', '/per/misc/race'
RELATIONS = ['None', PEER, MEMBER, RACE]
# None-heavy: 7 of 10 gold labels are None
GOLD = [PEER, MEMBER, PEER] + ['None'] * 7
PRED = [PEER, PEER, 'None', MEMBER, PEER] + ['None'] * 5


def test_hand_computed_none_heavy_case():
    s = relation_scores(GOLD, PRED, RELATIONS)
    # predicted non-None: 0, 1, 3, 4 -> 4; gold non-None: 0, 1, 2 -> 3; correct: 0 -> 1
    p, r = 1 / 4, 1 / 3
    assert (s['predicted'], s['gold'], s['correct']) == (4, 3, 1)
    assert s['precision'] == p and s['recall'] == r
    assert s['f1'] == 2 * 1 / (4 + 3) == pytest.approx(2 * p * r / (p + r))
    assert s['accuracy'] == 6 / 10  # instance 0 and the five None/None
    peer = s['per_relation'][PEER]
    assert (peer['precision'], peer['recall']) == (1 / 3, 1 / 2)
    assert (peer['support'], peer['predicted']) == (2, 3)
    assert peer['f1'] == pytest.approx(0.4)
    assert s['per_relation'][MEMBER]['f1'] == 0
    # a relation that never occurs in the split still has a row, with zeros, not NaN
    assert s['per_relation'][RACE] == dict(precision=0, recall=0, f1=0, support=0, predicted=0)
    assert 'None' not in s['per_relation']


def test_matches_classification_report_on_mnre_val():
    """Gold labels of the MNRE validation split, predictions with errors of every kind (None for a relation,
    a relation for None, one relation for another): the micro line and every per-relation row are those of
    scikit-learn's report over the non-None labels, in the rel2id.json order."""
    mnre = osp.join(require_real_data(*MNRE_FILES), 'mnre')
    with open(osp.join(mnre, 'rel2id.json')) as f:
        relations = list(json.load(f))
    with open(osp.join(mnre, 'mnre_val.txt')) as f:
        gold = [ast.literal_eval(line)['relation'] for line in f]
    rng = random.Random(0)
    pred = [g if rng.random() < 0.7 else rng.choice(relations) for g in gold]
    s = relation_scores(gold, pred, relations)
    labels = relations[1:]
    report = classification_report(gold, pred, labels=labels, output_dict=True, zero_division=0)
    micro = report['micro avg']
    assert (s['precision'], s['recall'], s['f1']) == pytest.approx(
        (micro['precision'], micro['recall'], micro['f1-score']), abs=1e-15)
    assert s['gold'] == micro['support'] == sum(g != 'None' for g in gold)
    assert 0 < s['correct'] < s['gold'] and s['predicted'] != s['gold']
    assert list(s['per_relation']) == labels
    for rel, row in s['per_relation'].items():
        assert (row['precision'], row['recall'], row['f1'], row['support']) == pytest.approx(
            (report[rel]['precision'], report[rel]['recall'], report[rel]['f1-score'], report[rel]['support']))
        assert row['predicted'] == pred.count(rel)


def test_zero_denominators_give_zero():
    s = relation_scores(['None', PEER], ['None', 'None'], RELATIONS)
    assert (s['precision'], s['recall'], s['f1'], s['accuracy']) == (0, 0, 0, 0.5)
    s = relation_scores(['None'] * 3, ['None'] * 3, RELATIONS)
    assert (s['precision'], s['recall'], s['f1'], s['accuracy']) == (0, 0, 0, 1)
    with pytest.raises(ValueError, match='2 gold labels but 1 predictions'):
        relation_scores(['None', PEER], ['None'])
    s = relation_scores([], [], RELATIONS)  # an empty split: zeros and a zero row per relation
    assert (s['f1'], s['accuracy'], s['gold']) == (0, 0, 0) and s['per_relation'][PEER]['support'] == 0


def _samples(gold, pred, relations=RELATIONS):
    samples = []
    for i, (g, p) in enumerate(zip(gold, pred)):
        scores = torch.full((len(relations), ), 0.1 / (len(relations) - 1))
        scores[relations.index(p)] = 0.9
        s = PMUDataSample(metainfo=dict(sample_idx=i, img_id=f'{i}.jpg', has_image=False,
                                        tokens=['a', 'b', 'c'], head_name='a', tail_name='c'))
        s.head, s.tail, s.gt_relation, s.pred_relation, s.pred_scores = (0, 1), (2, 3), g, p, scores
        samples.append(s.to_dict())  # as mmengine's Evaluator passes them
    return samples


def test_metric_reports_percentages_f1_first_and_writes_json_lines(tmp_path):
    out = tmp_path / 'pred.jsonl'
    metric = RelationMetric(out_file=str(out))
    metric.dataset_meta = dict(relations=RELATIONS)
    metric.process({}, _samples(GOLD, PRED))
    res = metric.evaluate(len(GOLD))
    assert list(res)[:4] == ['re/f1', 're/precision', 're/recall', 're/accuracy']
    assert res['re/f1'] == round(100 * 2 / 7, 2) and res['re/precision'] == 25.0
    assert res['re/recall'] == 33.33 and res['re/accuracy'] == 60.0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == len(GOLD)
    assert rows[1]['gold'] == MEMBER and rows[1]['pred'] == PEER
    assert rows[1]['pred_prob'] == pytest.approx(0.9)
    assert rows[1]['gold_prob'] == pytest.approx(0.1 / 3)
    assert list(rows[1]['probs']) == RELATIONS
    assert sum(rows[1]['probs'].values()) == pytest.approx(1)
    assert rows[1]['head'] == dict(name='a', pos=[0, 1]) and rows[1]['tokens'] == ['a', 'b', 'c']


def test_per_relation_f1_on_request_and_order_mismatch_is_an_error():
    metric = RelationMetric(per_relation_f1=True)
    metric.dataset_meta = dict(relations=RELATIONS)
    metric.process({}, _samples(GOLD, PRED))
    res = metric.evaluate(len(GOLD))
    assert res['re/per/per/peer/f1'] == 40.0 and res['re/per/misc/race/f1'] == 0
    metric = RelationMetric()
    metric.dataset_meta = dict(relations=list(reversed(RELATIONS)))
    metric.process({}, _samples(GOLD, PRED))
    with pytest.raises(ValueError, match='another order'):
        metric.evaluate(len(GOLD))
