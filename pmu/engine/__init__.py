from pmu.utils.checkpoint import (CheckpointError, CheckpointWriteError, NonFiniteCheckpointError,
                                  UnsafeCheckpointError, load_checkpoint_file, load_mapped_checkpoint,
                                  register_safe_globals)
from .hooks import *  # noqa: F401,F403
from .lock import WorkDirBusyError, WorkDirLock
from .optim_wrapper import AutocastOptimWrapper
from .optim_wrapper_constructor import CheckedOptimWrapperConstructor
from .resume import ResumableEpochBasedTrainLoop, get_rng_state, set_rng_state
from .runner import QuietConsoleRunner, build_runner
from .schedulers import SpanLinearLR

__all__ = [
    'AutocastOptimWrapper', 'CheckedOptimWrapperConstructor', 'CheckpointError', 'CheckpointWriteError',
    'NonFiniteCheckpointError', 'QuietConsoleRunner', 'ResumableEpochBasedTrainLoop', 'SpanLinearLR',
    'UnsafeCheckpointError',
    'WorkDirBusyError', 'WorkDirLock', 'get_rng_state', 'load_checkpoint_file', 'load_mapped_checkpoint',
    'build_runner', 'register_safe_globals', 'set_rng_state'
]
