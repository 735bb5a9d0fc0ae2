from .checkpoint import AtomicCheckpointHook
from .compile import CompileModelHook
from .curves import CurvePlotHook
from .finite_loss import FiniteLossHook, NonFiniteLossError
from .logger import ReadableLoggerHook
from .progress import EvalProgressHook
from .rng_state import RNGStateHook
from .soft_labels import SoftLabelHook
from .summary import RunSummaryHook
from .subset import DataSubsetHook

__all__ = [
    'AtomicCheckpointHook', 'CompileModelHook', 'CurvePlotHook', 'DataSubsetHook', 'EvalProgressHook', 'FiniteLossHook',
    'NonFiniteLossError', 'ReadableLoggerHook', 'RNGStateHook', 'RunSummaryHook', 'SoftLabelHook'
]
