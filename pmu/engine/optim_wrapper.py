from contextlib import contextmanager

import torch
from mmengine.optim import OptimWrapper

from pmu.registry import OPTIM_WRAPPERS


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
