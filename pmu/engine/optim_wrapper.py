import logging
from collections import Counter
from contextlib import contextmanager
from typing import List

import torch
import torch.nn as nn
from mmengine.logging import MMLogger
from mmengine.optim import OptimWrapper

from pmu.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS
from .optim_wrapper_constructor import CheckedOptimWrapperConstructor


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(OptimWrapper):
    """Mixed precision by ``torch.autocast`` without loss scaling.

    For bfloat16, which needs no loss scaling, on any device: MMEngine's
    ``AmpOptimWrapper`` refuses to run on CPU.

    Args:
        dtype: ``'bfloat16'`` (or ``'float16'`` where the device supports it).
        device_type: ``'cpu'`` or ``'cuda'``.
    """

    def __init__(self, dtype: str = 'bfloat16', device_type: str = 'cpu', **kwargs):
        super().__init__(**kwargs)
        self.cast_dtype = getattr(torch, dtype)
        self.device_type = device_type

    @contextmanager
    def optim_context(self, model):
        with super().optim_context(model), torch.autocast(
                device_type=self.device_type, dtype=self.cast_dtype):
            yield


class _HoldParamLogs(logging.Filter):
    """Holds back MMEngine's per-parameter lines while an optimizer is built."""

    def filter(self, record):
        message = record.getMessage()
        return not (message.startswith('paramwise_options -- ')
                    or message.endswith('is skipped since its requires_grad=False'))


def _group_names(names: List[str], depth: int = 3, limit: int = 4) -> str:
    """``'visual_encoder.net._blocks (105), visual_encoder.net._bn0 (2)'``: counts by name prefix."""
    counts = Counter('.'.join(n.split('.')[:depth]) for n in names)
    parts = [f'{prefix} ({n})' for prefix, n in counts.most_common(limit)]
    if len(counts) > limit:
        parts.append(f'{len(counts) - limit} more prefixes')
    return ', '.join(parts)


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class SummarizedOptimWrapperConstructor(CheckedOptimWrapperConstructor):
    """The constructor of pmu's schedules (``optim_wrapper.constructor``), with a summary instead of a
    line per parameter.

    It checks ``custom_keys`` as :class:`CheckedOptimWrapperConstructor` does.
    MMEngine's ``DefaultOptimWrapperConstructor`` logs every option of every parameter
    (``paramwise_options -- fusion.layers.0.attention.self.query.bias:lr=0.0002``,
    several hundred lines for a lite model) and warns once per frozen
    parameter. This one builds the same optimizer and logs two lines read
    from what was built::

        paramwise_cfg: lr_mult 1 on 101 params (text_encoder.*), lr_mult 0.2 on 147 params (visual_encoder.*), ...
        frozen: 108 params with requires_grad=False are not optimised: visual_encoder.net._blocks (105), ...

    Each rule is named by the ``custom_keys`` entry that matched, else
    ``norm/bias`` (``norm_decay_mult``, ``bias_decay_mult``, ...) or ``default``.
    """

    def __call__(self, model: nn.Module) -> OptimWrapper:
        logger = MMLogger.get_current_instance()
        hold = _HoldParamLogs()
        logger.addFilter(hold)
        try:
            optim_wrapper = super().__call__(model)
        finally:
            logger.removeFilter(hold)
        module = model.module if hasattr(model, 'module') else model
        if self.paramwise_cfg:
            logger.info(self.summary(module, optim_wrapper.optimizer))
        frozen = [n for n, p in module.named_parameters() if not p.requires_grad]
        if frozen:
            logger.info(f'frozen: {len(frozen)} params with requires_grad=False are not optimised: '
                        f'{_group_names(frozen)}')
        return optim_wrapper

    def summary(self, module: nn.Module, optimizer) -> str:
        """One line: how many parameters each ``paramwise_cfg`` rule gave which multipliers."""
        names = {id(p): n for n, p in module.named_parameters()}
        keys = sorted(sorted(self.paramwise_cfg.get('custom_keys', {})), key=len, reverse=True)
        rules = Counter()
        for group in optimizer.param_groups:
            lr_mult = group['lr'] / self.base_lr if self.base_lr else 1.0
            decay_mult = (group.get('weight_decay', self.base_wd) / self.base_wd
                          if self.base_wd else 1.0)
            for p in group['params']:
                name = names.get(id(p), '?')
                # the custom key MMEngine applied: the longest that occurs in the name
                key = next((k for k in keys if k in name), None)
                if key is not None:
                    rule = f'{key}.*'
                elif (lr_mult, decay_mult) != (1.0, 1.0):
                    rule = 'norm/bias'
                else:
                    rule = 'default'
                rules[(rule, round(lr_mult, 6), round(decay_mult, 6))] += 1
        parts = []
        for (rule, lr_mult, decay_mult), n in rules.items():
            mults = [f'lr_mult {lr_mult:g}']
            if decay_mult != 1.0:
                mults.append(f'decay_mult {decay_mult:g}')
            parts.append(f'{" ".join(mults)} on {n} params ({rule})')
        return 'paramwise_cfg: ' + ', '.join(parts)
