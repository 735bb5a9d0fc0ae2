"""The training and validation lines a person reads on the console."""
from typing import Dict, List, Optional

from mmengine.hooks import LoggerHook

from pmu.registry import HOOKS
from pmu.utils.setup_env import add_console_filter, verbose_console


def _number(value) -> str:
    return f'{value:.2f}' if isinstance(value, float) else str(value)


def metric_lines(metrics: Dict[str, float], phase: str = 'val', epoch: Optional[int] = None) -> List[str]:
    """The metrics of one evaluation as short lines: one headline line, then the per-type F1.

    ``{'ner/f1': 83.72, 'ner/precision': 83.75, 'ner/recall': 83.69, 'ner/PER/f1': 90.1, ...}`` gives
    ``['val epoch 3: ner/f1 83.72  P 83.75  R 83.69', '  ner per type (f1): PER 90.10  ...']``.
    A metric group without an F1 shows each of its figures (``retrieval: t2i_R@1 12.50  i2t_R@1 20.00``).
    """
    groups: Dict[str, Dict[str, float]] = {}
    for key, value in metrics.items():
        prefix, _, name = key.partition('/')
        if not name:
            prefix, name = '', key
        groups.setdefault(prefix, {})[name] = value
    head, per_type = [], []
    for prefix, group in groups.items():
        p = f'{prefix}/' if prefix else ''
        if 'f1' in group:
            text = f'{p}f1 {_number(group["f1"])}'
            for name, short in (('precision', 'P'), ('recall', 'R'), ('accuracy', 'acc'), ('strict/f1', 'strict f1')):
                if name in group:
                    text += f'  {short} {_number(group[name])}'
            head.append(text)
            types = [(name[:-len('/f1')], value) for name, value in group.items()
                     if name.endswith('/f1') and name != 'strict/f1']
            if types:
                per_type.append(f'  {prefix} per type (f1): '
                                + '  '.join(f'{t} {_number(v)}' for t, v in types))
        else:
            figures = '  '.join(f'{name} {_number(v)}' for name, v in group.items() if isinstance(v, (int, float)))
            head.append(f'{prefix}: {figures}' if prefix and figures else figures)
    where = f'{phase} epoch {epoch}' if epoch is not None else phase
    return [f'{where}: ' + '  |  '.join(h for h in head if h)] + per_type


@HOOKS.register_module()
class ReadableLoggerHook(LoggerHook):
    """MMEngine's ``LoggerHook`` with progress about every tenth of an epoch and short metric lines.

    - ``interval=None`` (the default) logs a training line every tenth of
      an epoch (at least every iteration): ``len(train_dataloader) / 10``,
      set before training. An integer keeps MMEngine's meaning.
    - After each validation and test, :func:`metric_lines` logs the headline
      metrics on one line and the per-type F1 on a second. MMEngine's full
      ``Epoch(val) [1][23/23] ner/f1: ... ner/LOC/precision: ...`` line and
      its per-iteration evaluation lines go to the log file only
      (:class:`~pmu.utils.setup_env.ConsoleFilter`, which this hook also puts
      on the logger in use unless ``PMU_VERBOSE=1``).

    Args:
        interval: training iterations between two lines; None: a tenth of an epoch.
        **kwargs: the other arguments of MMEngine's ``LoggerHook``.
    """

    def __init__(self, interval: Optional[int] = None, **kwargs):
        if interval is not None and (isinstance(interval, bool) or not isinstance(interval, int)):
            raise TypeError(f'default_hooks.logger.interval: a number of iterations, or None for a tenth '
                            f'of an epoch; got {interval!r}')
        self.auto = interval is None
        super().__init__(interval=1 if self.auto else interval, **kwargs)
        if not verbose_console():
            from mmengine.logging import MMLogger
            add_console_filter(MMLogger.get_current_instance())

    @staticmethod
    def auto_interval(iterations: int) -> int:
        """Iterations between two lines for about ten lines an epoch."""
        return max(1, round(iterations / 10))

    def before_train(self, runner) -> None:
        if self.auto:
            self.interval = self.auto_interval(len(runner.train_dataloader))

    def before_test_epoch(self, runner) -> None:
        if self.auto and (runner._train_loop is None or isinstance(runner._train_loop, dict)):
            # a test run (tools/test.py): its per-iteration lines, in the log file, every tenth
            self.interval = self.auto_interval(len(runner.test_dataloader))

    def _log_metrics(self, runner, metrics, phase: str) -> None:
        if not metrics:
            return
        epoch = None
        if phase == 'val' and not (isinstance(runner._train_loop, dict) or runner._train_loop is None):
            epoch = runner.epoch
        for line in metric_lines(metrics, phase, epoch):
            runner.logger.info(line)

    def after_val_epoch(self, runner, metrics=None) -> None:
        super().after_val_epoch(runner, metrics)
        self._log_metrics(runner, metrics, 'val')

    def after_test_epoch(self, runner, metrics=None) -> None:
        super().after_test_epoch(runner, metrics)
        self._log_metrics(runner, metrics, 'test')
