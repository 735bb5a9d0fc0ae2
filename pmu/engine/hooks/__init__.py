from .checkpoint import CheckpointHook
from .compile import CompileModelHook
from .curves import CurvePlotHook
from .finite_loss import FiniteLossHook, NonFiniteLossError
from .progress import EvalProgressHook
from .rng_state import RNGStateHook
from .soft_labels import SoftLabelHook
from .subset import DataSubsetHook

__all__ = [
    'CheckpointHook', 'CompileModelHook', 'CurvePlotHook', 'DataSubsetHook', 'EvalProgressHook', 'FiniteLossHook',
    'NonFiniteLossError', 'RNGStateHook', 'SoftLabelHook'
]
