import json
import os
import os.path as osp
from collections import Counter
from typing import Dict, Optional, Sequence

from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from sklearn.metrics import accuracy_score, precision_recall_fscore_support

from pmu.registry import METRICS


def relation_scores(gold: Sequence[str], pred: Sequence[str],
                    relations: Sequence[str] = (), none_label: str = 'None') -> Dict:
    """Micro precision/recall/F1 over the non-``None`` relations, accuracy, and per relation.

    The convention of MKGformer/HVPNeT on MNRE: scikit-learn's
    ``precision_recall_fscore_support(labels=<all but None>, average='micro')``.
    An instance counts as predicted when its prediction is not ``none_label``,
    as gold when its gold is not, and as correct when it is predicted and
    equals the gold; ``P = correct / predicted``, ``R = correct / gold``,
    ``F1 = 2 correct / (predicted + gold)`` (= 2PR / (P + R)); an empty
    denominator gives 0. Fractions in [0, 1].

    ``per_relation`` has a row for every non-``None`` relation of
    ``relations`` plus any that occur, including those with no gold instance
    in this split (their recall is 0): scikit-learn's per-label scores
    (``average=None``), the gold count (``support``) and the predicted count.
    """
    if len(gold) != len(pred):
        raise ValueError(f'{len(gold)} gold labels but {len(pred)} predictions')
    names = list(dict.fromkeys([*relations, *sorted(set(gold) | set(pred))]))
    labels = [rel for rel in names if rel != none_label]
    n_pred = sum(p != none_label for p in pred)
    n_gold = sum(g != none_label for g in gold)
    correct = sum(p == g and p != none_label for g, p in zip(gold, pred))
    if not gold or not labels:  # scikit-learn needs an instance and a label
        zero = dict(precision=0.0, recall=0.0, f1=0.0, support=0, predicted=0)
        return dict(precision=0.0, recall=0.0, f1=0.0, accuracy=1.0 if gold else 0.0, correct=0,
                    predicted=0, gold=0, per_relation={rel: dict(zero) for rel in labels})
    precision, recall, f1, _ = precision_recall_fscore_support(
        gold, pred, labels=labels, average='micro', zero_division=0)
    per_p, per_r, per_f1, support = precision_recall_fscore_support(
        gold, pred, labels=labels, average=None, zero_division=0)
    predicted = Counter(pred)
    per_relation = {
        rel: dict(precision=float(per_p[i]), recall=float(per_r[i]), f1=float(per_f1[i]),
                  support=int(support[i]), predicted=predicted[rel])
        for i, rel in enumerate(labels)}
    return dict(
        precision=float(precision),
        recall=float(recall),
        f1=float(f1),
        accuracy=float(accuracy_score(gold, pred)),
        correct=correct,
        predicted=n_pred,
        gold=n_gold,
        per_relation=per_relation)


def format_relation_table(scores: Dict) -> str:
    """The per-relation table (percent) followed by the micro line."""
    rows = [f'{"relation":<32}{"P":>8}{"R":>8}{"F1":>8}{"gold":>7}{"pred":>7}']
    for rel, s in scores['per_relation'].items():
        rows.append(f'{rel:<32}{100 * s["precision"]:8.2f}{100 * s["recall"]:8.2f}'
                    f'{100 * s["f1"]:8.2f}{s["support"]:7d}{s["predicted"]:7d}')
    rows.append(f'{"micro (non-None)":<32}{100 * scores["precision"]:8.2f}'
                f'{100 * scores["recall"]:8.2f}{100 * scores["f1"]:8.2f}'
                f'{scores["gold"]:7d}{scores["predicted"]:7d}')
    rows.append(f'accuracy (all instances): {100 * scores["accuracy"]:.2f}; '
                f'correct non-None: {scores["correct"]}')
    return '\n'.join(rows)


@METRICS.register_module()
class RelationMetric(BaseMetric):
    """Micro P/R/F1 over the non-``None`` relations, accuracy, and a per-relation table.

    See :func:`relation_scores` for the definition. The returned figures are
    percentages rounded to 2 decimals, F1 first (``save_best='auto'`` keeps
    the checkpoint with the best first metric). The per-relation table (P,
    R, F1, gold and predicted counts) goes to the log; relations with no
    instance in a split get a row too.

    Args:
        none_label: the "no relation" label.
        per_relation_f1: also return ``<relation>/f1`` for each relation (22
            more figures on every validation log line).
        out_file: if set, write one JSON line per instance: tokens, head and
            tail, image, ``gold``, ``pred``, their probabilities and the
            probability of every relation.
        prefix: metric names become ``<prefix>/f1``, ... (default ``re``).

    The results of the last evaluation stay in ``last_results`` (one dict per
    instance: ``sample_idx``, ``gold``, ``pred``, ``scores``, ...), for the
    error analysis of ``tools/test.py --show-dir``.
    """

    default_prefix = 're'

    def __init__(self,
                 none_label: str = 'None',
                 per_relation_f1: bool = False,
                 out_file: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.none_label = none_label
        self.per_relation_f1 = per_relation_f1
        self.out_file = out_file

    def process(self, data_batch, data_samples: Sequence) -> None:
        for s in data_samples:
            self.results.append(
                dict(
                    sample_idx=s.get('sample_idx'),
                    img_id=s.get('img_id'),
                    has_image=s.get('has_image'),
                    tokens=s.get('tokens'),
                    head=dict(name=s.get('head_name'), pos=list(s['head'])),
                    tail=dict(name=s.get('tail_name'), pos=list(s['tail'])),
                    gold=s['gt_relation'],
                    pred=s['pred_relation'],
                    scores=[float(x) for x in s['pred_scores']]))

    def compute_metrics(self, results: list) -> dict:
        self.last_results = results  # for tools/test.py --show-dir (pmu.evaluation.error_analysis)
        relations = list((self.dataset_meta or {}).get('relations', ()))
        self._check_order(results, relations)
        gold = [r['gold'] for r in results]
        pred = [r['pred'] for r in results]
        scores = relation_scores(gold, pred, relations, self.none_label)
        logger = MMLogger.get_current_instance()
        print_log(f'relation extraction on {len(results)} instances:\n'
                  + format_relation_table(scores), logger=logger)
        metrics = {k: round(100 * scores[k], 2)
                   for k in ('f1', 'precision', 'recall', 'accuracy')}
        if self.per_relation_f1:
            for rel, s in scores['per_relation'].items():
                metrics[f'{rel.strip("/")}/f1'] = round(100 * s['f1'], 2)
        if self.out_file:
            self._write_jsonl(results, relations)
        return metrics

    @staticmethod
    def _check_order(results, relations) -> None:
        """The scores follow ``model.relations``; make sure that is the dataset's order."""
        if not relations:
            return
        for r in results:
            scores = r['scores']
            if (len(scores) != len(relations) or r['pred'] not in relations
                    or scores[relations.index(r['pred'])] < max(scores)):
                raise ValueError(
                    'the model scores relations in another order than the dataset\'s '
                    f'rel2id.json ({relations[:3]}...): set model.relations to the rel2id order')

    def _write_jsonl(self, results, relations) -> None:
        os.makedirs(osp.dirname(osp.abspath(self.out_file)), exist_ok=True)
        with open(self.out_file, 'w', encoding='utf-8') as f:
            for r in results:
                probs = dict(zip(relations, r['scores'])) if relations else {}
                row = {k: v for k, v in r.items() if k != 'scores'}
                row.update(
                    gold_prob=probs.get(r['gold']),
                    pred_prob=probs.get(r['pred']),
                    probs=probs or r['scores'])
                f.write(json.dumps(row, ensure_ascii=False) + '\n')
        print_log(f'predictions written to {self.out_file} (one JSON line per instance: '
                  'gold, pred, probabilities)', logger=MMLogger.get_current_instance())
