import os
import os.path as osp
from typing import Optional, Sequence

from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from seqeval.metrics import classification_report
from seqeval.scheme import IOB2

from pmu.registry import METRICS
from pmu.structures import entity_spans


@METRICS.register_module()
class SeqevalNERMetric(BaseMetric):
    """Entity-level precision, recall and F1 (seqeval), micro and per type, under two protocols.

    - ``ner/f1``, ``ner/precision``, ``ner/recall`` and the per-type
      ``ner/<TYPE>/{precision,recall,f1,support}``: seqeval's default mode,
      the CoNLL-2000 ``conlleval`` protocol that UMT, HVPNeT and MKGformer
      report. An ``I-X`` that follows neither ``B-X`` nor ``I-X`` starts an
      entity of type ``X``. ``ner/f1`` comes first: ``save_best='auto'`` selects
      checkpoints by it.
    - ``ner/strict/f1``, ``ner/strict/precision``, ``ner/strict/recall``:
      seqeval's strict mode with the IOB2 scheme, where such an orphan ``I-X``
      is no entity at all.

    The two differ only where the gold or predicted tags break IOB2 (orphan
    ``I-`` tags). Scored over the original words of each sentence: words cut
    off by sub-word truncation count as predicted ``O``.

    Args:
        out_file: if set, write the predictions as CoNLL
            (``IMGID:<id>`` then ``word<TAB>gold<TAB>pred``).
        prefix: metric names become ``<prefix>/f1``, ``<prefix>/PER/f1``, ...

    The results of the last evaluation stay in ``last_results`` (one dict per
    sentence: ``sample_idx``, ``img_id``, ``words``, ``gold``, ``pred``), for
    the error analysis of ``tools/test.py --show-dir``.
    """

    default_prefix = 'ner'

    def __init__(self,
                 out_file: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.out_file = out_file

    def process(self, data_batch, data_samples: Sequence) -> None:
        for s in data_samples:
            self.results.append(
                dict(
                    sample_idx=s.get('sample_idx'),
                    img_id=s.get('img_id'),
                    words=s.get('words'),
                    gold=list(s['gt_tags']),
                    pred=list(s['pred_tags']),
                    word_ids=list(s.get('word_ids'))))

    def compute_metrics(self, results: list) -> dict:
        self.last_results = results  # for tools/test.py --show-dir (pmu.evaluation.error_analysis)
        gold = [r['gold'] for r in results]
        pred = [r['pred'] for r in results]
        conlleval = classification_report(gold, pred, output_dict=True, zero_division=0)
        strict = classification_report(
            gold, pred, mode='strict', scheme=IOB2, output_dict=True, zero_division=0)
        micro, strict_micro = conlleval['micro avg'], strict['micro avg']
        # f1 first: save_best='auto' keeps the checkpoint with the best first metric
        metrics = dict(f1=micro['f1-score'], precision=micro['precision'], recall=micro['recall'])
        for name, row in conlleval.items():
            if not name.endswith(' avg'):
                for k, short in (('precision', 'precision'), ('recall', 'recall'),
                                 ('f1-score', 'f1'), ('support', 'support')):
                    metrics[f'{name}/{short}'] = row[k]
        metrics.update({'strict/f1': strict_micro['f1-score'], 'strict/precision': strict_micro['precision'],
                        'strict/recall': strict_micro['recall']})
        metrics = {k: round(float(v) * 100, 2) if not k.endswith('support') else int(v)
                   for k, v in metrics.items()}
        prefix = self.prefix or self.default_prefix
        print_log(f"{prefix}/f1 = {metrics['f1']:.2f}: conlleval protocol (seqeval default mode, as UMT, "
                  f"HVPNeT, MKGformer report; also the per-type scores); {prefix}/strict/f1 = "
                  f"{metrics['strict/f1']:.2f}: seqeval strict mode, IOB2 (an orphan I- tag is no entity)",
                  logger=MMLogger.get_current_instance())
        truncated = sum(
            1 for r in results for _, s, e in entity_spans(r['gold'])
            if any(r['word_ids'][i] < 0 for i in range(s, e)))
        if truncated:
            print_log(f'{truncated} gold entities lost words to truncation (predicted O)',
                      logger=MMLogger.get_current_instance())
        if self.out_file:
            self._write_conll(results)
        return metrics

    def _write_conll(self, results) -> None:
        os.makedirs(osp.dirname(osp.abspath(self.out_file)), exist_ok=True)
        with open(self.out_file, 'w', encoding='utf-8') as f:
            for r in results:
                if r['img_id'] is not None:
                    f.write(f'IMGID:{r["img_id"]}\n')
                for w, g, p in zip(r['words'], r['gold'], r['pred']):
                    f.write(f'{w}\t{g}\t{p}\n')
                f.write('\n')
        print_log(f'predictions written to {self.out_file} (word, gold, predicted)',
                  logger=MMLogger.get_current_instance())
