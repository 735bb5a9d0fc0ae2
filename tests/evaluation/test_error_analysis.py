"""Error kinds and confusion tables of pmu.evaluation.error_analysis on hand-written gold and predictions,
and their agreement with the metrics that score the same predictions."""
import random

import pytest

from pmu.evaluation.error_analysis import (
    NONE,
    analyse_entities,
    analyse_evaluator,
    analyse_metric,
    analyse_relations,
    confusion_table,
    conlleval_spans,
    entity_records,
    relation_kind,
)
from pmu.evaluation.metrics import RelationMetric, SeqevalNERMetric
from pmu.structures import PMUDataSample
from tests.evaluation.test_re_metric import RELATIONS, _samples

#        0        1        2     3        4     5        6        7        8     9         10       11
GOLD = ['B-PER', 'I-PER', 'O', 'B-LOC', 'O', 'B-ORG', 'I-ORG', 'I-ORG', 'O', 'B-MISC', 'O', 'O']
PRED = ['B-PER', 'I-PER', 'O', 'B-ORG', 'O', 'B-ORG', 'I-ORG', 'O', 'O', 'O', 'B-PER', 'O']


def kinds(records):
    return [(r['kind'], r['gold'], r['pred'], r['against']) for r in records]


def test_each_mner_error_kind():
    records = entity_records(conlleval_spans(GOLD), conlleval_spans(PRED))
    assert kinds(records) == [
        ('correct', ('PER', 0, 2), ('PER', 0, 2), None),
        ('wrong_type', ('LOC', 3, 4), ('ORG', 3, 4), None),             # same boundaries, other type
        ('wrong_boundary', ('ORG', 5, 8), ('ORG', 5, 7), None),         # overlapping, same type
        ('miss', ('MISC', 9, 10), None, None),                          # no prediction overlaps it
        ('false_positive', None, ('PER', 10, 11), None)]                # overlaps no gold span


def test_wrong_boundary_and_type():
    records = entity_records([('ORG', 0, 3)], [('LOC', 0, 2)])
    assert kinds(records) == [('wrong_boundary_type', ('ORG', 0, 3), ('LOC', 0, 2), None)]


def test_split_and_merged_predictions_pair_one_to_one():
    # "New York Yankees" ORG predicted as "New York" LOC + "Yankees" ORG: the larger overlap is paired,
    # the other piece is a wrong boundary against the gold span, unpaired
    split = entity_records([('ORG', 0, 3)], [('LOC', 0, 2), ('ORG', 2, 3)])
    assert kinds(split) == [('wrong_boundary_type', ('ORG', 0, 3), ('LOC', 0, 2), None),
                            ('wrong_boundary', None, ('ORG', 2, 3), ('ORG', 0, 3))]
    # one prediction over two gold spans: the second gold is no miss (a prediction overlaps it)
    merged = entity_records([('PER', 0, 2), ('PER', 3, 4)], [('PER', 0, 4)])
    assert kinds(merged) == [('wrong_boundary', ('PER', 0, 2), ('PER', 0, 4), None),
                             ('wrong_boundary', ('PER', 3, 4), None, ('PER', 0, 4))]
    # a chain of equal overlaps pairs in text order, so that no span is left over
    chain = entity_records([('PER', 0, 2), ('PER', 2, 4)], [('PER', 1, 3), ('PER', 3, 4)])
    assert kinds(chain) == [('wrong_boundary', ('PER', 0, 2), ('PER', 1, 3), None),
                            ('wrong_boundary', ('PER', 2, 4), ('PER', 3, 4), None)]


def test_orphan_i_counts_as_the_metric_counts_it():
    # seqeval's default mode (ner/f1): an orphan I-X starts an entity
    assert conlleval_spans(['O', 'I-PER', 'I-PER', 'B-LOC', 'I-ORG']) == [
        ('PER', 1, 3), ('LOC', 3, 4), ('ORG', 4, 5)]


def test_mner_summary_and_confusion():
    summary = analyse_entities([(GOLD, PRED), (['O', 'B-PER'], ['O', 'B-PER'])],
                               types=('PER', 'LOC', 'ORG', 'MISC'))['summary']
    assert (summary['posts'], summary['posts_with_errors']) == (2, 1)
    assert (summary['gold'], summary['predicted'], summary['correct']) == (5, 5, 2)
    assert summary['errors'] == dict(false_positive=1, miss=1, wrong_type=1, wrong_boundary=1,
                                     wrong_boundary_type=0)
    table = summary['confusion']
    assert table['rows'] == table['columns'] == ['PER', 'LOC', 'ORG', 'MISC', NONE]
    cell = {(g, p): table['counts'][i][j] for i, g in enumerate(table['rows'])
            for j, p in enumerate(table['columns'])}
    assert cell['PER', 'PER'] == 2 and cell['LOC', 'ORG'] == 1 and cell['ORG', 'ORG'] == 1
    assert cell['MISC', NONE] == 1 and cell[NONE, 'PER'] == 1
    assert sum(map(sum, table['counts'])) == 6
    # every gold span once in its row, every prediction once in its column
    assert sum(sum(row) for g, row in zip(table['rows'], table['counts']) if g != NONE) == summary['gold']
    assert sum(table['counts'][i][j] for i, g in enumerate(table['rows']) for j, p in enumerate(table['columns'])
               if p != NONE) == summary['predicted']


def test_each_mre_error_kind_and_table():
    assert relation_kind('/per/per/peer', '/per/per/peer') == 'correct'
    assert relation_kind('None', 'None') == 'correct'
    assert relation_kind('/per/per/peer', '/per/org/member_of') == 'wrong_relation'
    assert relation_kind('/per/per/peer', 'None') == 'missed_relation'
    assert relation_kind('None', '/per/per/peer') == 'spurious_relation'
    gold = ['/per/per/peer', '/per/per/peer', '/per/per/peer', 'None', 'None']
    pred = ['/per/per/peer', '/per/org/member_of', 'None', '/per/per/peer', 'None']
    a = analyse_relations(gold, pred, RELATIONS)
    s = a['summary']
    assert s['errors'] == dict(wrong_relation=1, missed_relation=1, spurious_relation=1)
    assert (s['posts'], s['posts_with_errors'], s['gold'], s['predicted'], s['correct']) == (5, 3, 3, 3, 1)
    assert s['accuracy'] == 40.0 and s['precision'] == s['recall'] == 33.33
    assert s['confusion']['rows'] == ['None', '/per/per/peer', '/per/org/member_of']
    assert s['confusion']['counts'] == [[1, 1, 0], [1, 1, 1], [0, 0, 0]]
    assert [p['errors'] for p in a['posts']] == [[], ['wrong_relation'], ['missed_relation'],
                                                 ['spurious_relation'], []]
    with pytest.raises(ValueError, match='2 gold relations but 1 predictions'):
        analyse_relations(['None', 'None'], ['None'])


def test_confusion_table_order():
    t = confusion_table([('b', 'a'), ('none', 'c'), ('a', 'none')], labels=('c', 'b'), last='none')
    assert t['rows'] == ['c', 'b', 'a', 'none']
    assert t['counts'][1] == [0, 0, 1, 0]


def _ner_samples(sentences):
    out = []
    for i, (g, p) in enumerate(sentences):
        s = PMUDataSample(metainfo=dict(sample_idx=i, img_id=str(i), words=[f'w{k}' for k in range(len(g))],
                                        word_ids=list(range(len(g)))))
        s.gt_tags, s.pred_tags = g, p
        out.append(s.to_dict())
    return out


def random_tags(rng, n):
    return [rng.choice(['O', 'O', 'O', 'B-PER', 'I-PER', 'B-LOC', 'I-LOC', 'B-ORG']) for _ in range(n)]


def test_counts_agree_with_the_ner_metric_on_random_tags():
    rng = random.Random(0)
    sentences = [(random_tags(rng, 12), random_tags(rng, 12)) for _ in range(40)]
    metric = SeqevalNERMetric()
    metric.dataset_meta = dict(entity_types=('PER', 'LOC', 'ORG', 'MISC'))
    metric.process({}, _ner_samples(sentences))
    scores = metric.compute_metrics(metric.results)
    a = analyse_metric(metric)
    s = a['summary']
    assert s['gold'] == sum(v for k, v in scores.items() if k.endswith('/support'))
    assert (s['precision'], s['recall'], s['f1']) == (scores['precision'], scores['recall'], scores['f1'])
    for row, t in zip(s['confusion']['counts'], s['confusion']['rows']):
        if t != NONE:
            assert sum(row) == scores[f'{t}/support']
    assert [p['sample_idx'] for p in a['posts']] == list(range(40))


def test_counts_agree_with_the_relation_metric():
    rng = random.Random(1)
    gold = [rng.choice(RELATIONS) for _ in range(50)]
    pred = [rng.choice(RELATIONS) for _ in range(50)]
    metric = RelationMetric()
    metric.dataset_meta = dict(relations=RELATIONS)
    metric.process({}, _samples(gold, pred))
    scores = metric.compute_metrics(metric.results)

    class Evaluator:  # what analyse_evaluator reads of MMEngine's
        metrics = [SeqevalNERMetric(), metric]  # the first has evaluated nothing

    a = analyse_evaluator(Evaluator)
    s = a['summary']
    for k in ('precision', 'recall', 'f1', 'accuracy'):
        assert s[k] == scores[k], k
    assert a['posts'][0]['scores'][pred[0]] == pytest.approx(0.9)
    assert sum(map(sum, s['confusion']['counts'])) == 50
    assert analyse_evaluator(type('E', (), dict(metrics=[SeqevalNERMetric()]))) is None
