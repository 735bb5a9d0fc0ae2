"""Progress of the validation and test loops."""
from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from pmu.registry import HOOKS
from pmu.utils.progress import LoopProgress


@HOOKS.register_module()
class EvalProgressHook(Hook):
    """Shows how far a validation or test loop is.

    MMEngine's per-iteration evaluation lines go to the log file only
    (:class:`~pmu.utils.setup_env.ConsoleFilter`), so without this hook an
    evaluation is silent on the console until its metrics appear. It draws
    a bar on a terminal and otherwise logs ``val [12/23] 52%, 0:00:09
    elapsed, about 0:00:08 left`` every ``every`` of the loop, and one last
    line when it ends (:class:`~pmu.utils.progress.LoopProgress`).

    Args:
        every: fraction of the loop between two log lines.
        min_batches: loops with fewer batches report nothing.
        min_interval: seconds between two log lines at least (the last line
            comes in any case).
    """

    # before LoggerHook (BELOW_NORMAL): the final line comes before the metrics
    priority = 'NORMAL'

    def __init__(self, every: float = 0.1, min_batches: int = 5, min_interval: float = 2.0):
        self.every = every
        self.min_batches = min_batches
        self.min_interval = min_interval
        self._progress = None

    def _start(self, loop, desc):
        if is_main_process():
            self._progress = LoopProgress(
                len(loop.dataloader), desc, every=self.every, min_total=self.min_batches,
                min_interval=self.min_interval)

    def _step(self):
        if self._progress is not None:
            self._progress.update()

    def _end(self):
        if self._progress is not None:
            self._progress.close()
            self._progress = None

    def before_val_epoch(self, runner) -> None:
        self._start(runner.val_loop, 'val')

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._step()

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._end()

    def before_test_epoch(self, runner) -> None:
        self._start(runner.test_loop, 'test')

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._step()

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._end()
