"""The lines that close a run: what it reached and where its files are."""
import os.path as osp
import re
import time
from datetime import timedelta
from typing import Dict, List, Optional

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook as _MMEngineCheckpointHook
from mmengine.hooks import Hook

from pmu.registry import HOOKS
from .curves import CurvePlotHook


def _clock(seconds: float) -> str:
    return str(timedelta(seconds=round(seconds)))


@HOOKS.register_module()
class RunSummaryHook(Hook):
    """Logs a closing summary at the end of a run (console and log file).

    After training::

        finished in 0:12:31: best ner/f1 83.72 at epoch 7 (last epoch 10: 83.10)
          best checkpoint  /abs/work_dir/best_ner_f1_epoch_7.pth
          last checkpoint  /abs/work_dir/epoch_10.pth
          curves           /abs/work_dir/curves.png
          log              /abs/work_dir/20260101_120000/20260101_120000.log

    The time is wall time since the runner built its hooks (loading the
    datasets, training and validating; not building the model). After a
    test run (``tools/test.py``), the first metric, the files the
    metrics wrote (``--out``) and the log. A path shows only where the file
    exists; the best score and its checkpoint are the checkpoint hook's
    (``save_best``), the epoch of the best score is that of the best
    checkpoint's name or, without one, of the validation that reached it.
    """

    priority = 'VERY_LOW'  # after the checkpoint and curve hooks

    def __init__(self):
        # the wall time counts from the runner building its hooks: datasets, training and validation
        self._start = time.monotonic()
        self._val: List[tuple] = []  # (epoch, metrics) of each validation
        self._test: Optional[Dict[str, float]] = None

    def after_val_epoch(self, runner, metrics=None) -> None:
        if metrics:
            self._val.append((runner.epoch, dict(metrics)))

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._test = dict(metrics or {})

    def after_run(self, runner) -> None:
        if not is_main_process():
            return
        lines = self.lines(runner)
        if lines:
            runner.logger.info('\n'.join(lines))

    def _find(self, runner, kind):
        return next((h for h in runner.hooks if isinstance(h, kind)), None)

    def lines(self, runner) -> List[str]:
        """The summary, one string per line (empty when the run neither trained nor tested)."""
        elapsed = _clock(time.monotonic() - self._start)
        trained = not (runner._train_loop is None or isinstance(runner._train_loop, dict))
        files = []
        if trained:
            head = f'finished in {elapsed}'
            best = self._best(runner)
            if best is not None:
                head += f': best {best}'
            ckpt = self._find(runner, _MMEngineCheckpointHook)
            best_path = getattr(ckpt, 'best_ckpt_path', None) if ckpt is not None else None
            files.append(('best checkpoint', best_path))
            files.append(('last checkpoint', self._last_checkpoint(runner)))
            if self._find(runner, CurvePlotHook) is not None:
                files.append(('curves', osp.join(runner.work_dir, 'curves.png')))
        elif self._test is not None:
            head = f'tested in {elapsed}'
            if self._test:
                key, value = next(iter(self._test.items()))
                head += f': {key} {value:.2f}' if isinstance(value, float) else f': {key} {value}'
            for metric in getattr(runner.test_loop.evaluator, 'metrics', []):
                if getattr(metric, 'out_file', None):
                    files.append(('predictions', metric.out_file))
        else:
            return []
        files.append(('log', runner.logger.log_file))
        lines = [head]
        for name, path in files:
            if path and osp.isfile(path):
                lines.append(f'  {name:<16} {osp.abspath(path)}')
        return lines

    def _best(self, runner) -> Optional[str]:
        """``ner/f1 83.72 at epoch 7``, from the checkpoint hook's best score, else the validations."""
        ckpt = self._find(runner, _MMEngineCheckpointHook)
        keys = list(getattr(ckpt, 'key_indicators', None) or [])
        rules = list(getattr(ckpt, 'rules', None) or [])
        key = keys[0] if keys else (next(iter(self._val[-1][1])) if self._val else None)
        if key is None:
            return None
        greater = (rules[0] if rules else 'greater') != 'less'
        score = runner.message_hub.get_info('best_score') if keys else None
        epoch = None
        best_path = getattr(ckpt, 'best_ckpt_path', None) or ''
        found = re.search(r'_epoch_(\d+)\.pth$', osp.basename(best_path))
        if found:
            epoch = int(found.group(1))
        seen = [(e, m[key]) for e, m in self._val if key in m]
        if score is None and seen:
            epoch, score = (max if greater else min)(seen, key=lambda em: em[1])
        elif epoch is None and seen:
            epoch = next((e for e, v in seen if v == score), None)
        if score is None:
            return None
        text = f'{key} {score:.2f}' if isinstance(score, float) else f'{key} {score}'
        if epoch is not None:
            text += f' at epoch {epoch}'
        if seen and seen[-1][0] != epoch:
            text += f' (last epoch {seen[-1][0]}: {seen[-1][1]:.2f})'
        return text

    @staticmethod
    def _last_checkpoint(runner) -> Optional[str]:
        """The checkpoint named in ``<work_dir>/last_checkpoint`` (MMEngine writes it)."""
        record = osp.join(runner.work_dir, 'last_checkpoint')
        if not osp.isfile(record):
            return None
        with open(record, encoding='utf-8') as f:
            return f.read().strip() or None
