"""Stop training at a non-finite loss, before anything is saved from it."""
import math
from typing import Dict, List

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from pmu.registry import HOOKS


class NonFiniteLossError(FloatingPointError):
    """Training produced a non-finite loss or non-finite weights."""


def _value(v) -> float:
    return float(v.detach().float().mean()) if isinstance(v, torch.Tensor) else float(v)


def non_finite_tensors(named_tensors) -> List[str]:
    """Names of the floating-point tensors holding a NaN or an infinity."""
    return [name for name, t in named_tensors
            if isinstance(t, torch.Tensor) and t.is_floating_point() and not bool(torch.isfinite(t).all())]


@HOOKS.register_module()
class FiniteLossHook(Hook):
    """Stops the run at the first non-finite loss, or after ``max_consecutive`` in a row.

    After every training iteration the loss terms the model returned
    (``loss`` and each ``loss_*``) are checked. A non-finite one stops the
    run with :class:`NonFiniteLossError` naming the iteration, the epoch and
    every term's value; the tool then exits non-zero. Its priority is above
    the checkpoint hook's, so no checkpoint (regular or best) is written
    after it.

    ``max_consecutive > 1`` tolerates that many non-finite losses in a row
    (mixed precision with a dynamic loss scale skips such steps); the run
    still stops at once when the weights themselves stop being finite. In
    every case a checkpoint with non-finite weights is refused when it is
    about to be written, and validation on such weights (which could
    replace the best checkpoint) stops the run first.

    Args:
        max_consecutive: non-finite losses in a row that stop the run.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, max_consecutive: int = 1):
        if int(max_consecutive) < 1:
            raise ValueError(f'FiniteLossHook.max_consecutive must be >= 1, got {max_consecutive}')
        self.max_consecutive = int(max_consecutive)
        self.consecutive = 0

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not outputs:
            return
        values: Dict[str, float] = {k: _value(v) for k, v in outputs.items()
                                    if 'loss' in k and isinstance(v, (torch.Tensor, float, int))}
        if all(math.isfinite(v) for v in values.values()):
            self.consecutive = 0
            return
        self.consecutive += 1
        terms = ', '.join(f'{k}={v:.6g}' for k, v in values.items())
        where = (f'iteration {runner.iter + 1} (epoch {runner.epoch + 1}, batch {batch_idx + 1}/'
                 f'{len(runner.train_dataloader)})')
        if self.consecutive >= self.max_consecutive:
            self._stop(runner, f'non-finite loss at {where}: {terms}'
                       + (f' ({self.consecutive} in a row)' if self.max_consecutive > 1 else '')
                       + '. Training stops here and no checkpoint is written from these weights; lower the '
                       'learning rate (optim_wrapper.optimizer.lr), enable gradient clipping '
                       '(optim_wrapper.clip_grad) or check the inputs of this iteration')
        bad = non_finite_tensors(self._model(runner).named_parameters())
        if bad:
            self._stop(runner, f'non-finite loss at {where}: {terms}, and {len(bad)} parameters are no longer '
                       f'finite ({", ".join(bad[:5])}{", ..." if len(bad) > 5 else ""}). Training stops here')
        runner.logger.warning(f'non-finite loss at {where}: {terms} ({self.consecutive} in a row, '
                              f'the run stops at {self.max_consecutive})')

    def after_val_epoch(self, runner, metrics=None) -> None:
        # before CheckpointHook's save_best (which removes the previous best first)
        bad = non_finite_tensors(self._model(runner).named_parameters())
        if bad:
            self._stop(runner, f'after epoch {runner.epoch}, {len(bad)} parameters are not finite '
                       f'({", ".join(bad[:5])}{", ..." if len(bad) > 5 else ""}): no best checkpoint is kept '
                       'from these weights. Training stops here')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        bad = non_finite_tensors((checkpoint.get('state_dict') or {}).items())
        if bad:
            self._stop(runner, f'refusing to save a checkpoint at iteration {runner.iter + 1} (epoch '
                       f'{runner.epoch + 1}): {len(bad)} weights are not finite ({", ".join(bad[:5])}'
                       f'{", ..." if len(bad) > 5 else ""})')

    @staticmethod
    def _model(runner):
        return runner.model.module if is_model_wrapper(runner.model) else runner.model

    @staticmethod
    def _stop(runner, message: str) -> None:
        runner.logger.error(message)
        raise NonFiniteLossError(message)
