"""Parameter schedules given as fractions of training."""
from mmengine.optim.scheduler import LinearLR
from mmengine.optim.scheduler.param_scheduler import INF

from pmu.registry import PARAM_SCHEDULERS


@PARAM_SCHEDULERS.register_module()
class SpanLinearLR(LinearLR):
    """``LinearLR`` whose epoch bounds become iterations by rounding, never shorter than one iteration.

    Configs give it ``span=(a, b)``, fractions of training that
    :func:`pmu.apis.config.complete_config` turns into epochs from
    ``train_cfg.max_epochs``. MMEngine's conversion truncates ``begin`` and
    ``end`` to whole iterations, so a 10 % warm-up of a one-epoch run of two
    iterations would begin and end at 0 and fail; here it rounds and keeps at
    least one iteration, so short runs (``train_cfg.max_epochs=1`` on a small
    subset) train with the same schedule shape as full ones. A span of a
    single iteration runs it at ``start_factor`` and ends at ``end_factor``
    (a one-iteration warm-up returns to the full learning rate).
    """

    @classmethod
    def build_iter_from_epoch(cls, *args, begin=0, end=INF, by_epoch=True, epoch_length=None, **kwargs):
        if not by_epoch or not epoch_length:
            raise ValueError('SpanLinearLR converts an epoch-based schedule: by_epoch=True and an epoch length')
        first = int(round(begin * epoch_length))
        last = INF if end == INF else max(int(round(end * epoch_length)), first + 1)
        return cls(*args, begin=first, end=last, by_epoch=False, **kwargs)

    def step(self):
        super().step()
        # A span of one iteration: MMEngine's linear rule gives that iteration start_factor and, with no
        # second iteration, never applies end_factor, so a one-iteration warm-up would leave every later
        # iteration at start_factor (the next scheduler multiplies the current value). Where the span
        # ends, the value becomes end_factor's, as after a longer span.
        if self.total_iters == 0 and self._global_step == self.end and self.start_factor:
            for group in self.optimizer.param_groups:
                group[self.param_name] *= self.end_factor / self.start_factor
            self._last_value = [group[self.param_name] for group in self.optimizer.param_groups]
