from pmu.utils.checkpoint import (CheckpointError, CheckpointWriteError, NonFiniteCheckpointError,
                                  UnsafeCheckpointError, load_checkpoint_file, load_mapped_checkpoint,
                                  register_safe_globals)
from .hooks import *  # noqa: F401,F403
from .lock import WorkDirBusyError, WorkDirLock
from .optim_wrapper import AutocastOptimWrapper
from .optim_wrapper_constructor import CheckedOptimWrapperConstructor
from .resume import ResumableEpochBasedTrainLoop, get_rng_state, set_rng_state
from .schedulers import SpanLinearLR

__all__ = [
    'AutocastOptimWrapper', 'CheckedOptimWrapperConstructor', 'CheckpointError', 'CheckpointWriteError',
    'NonFiniteCheckpointError', 'ResumableEpochBasedTrainLoop', 'SpanLinearLR', 'UnsafeCheckpointError',
    'WorkDirBusyError', 'WorkDirLock', 'get_rng_state', 'load_checkpoint_file', 'load_mapped_checkpoint',
    'register_safe_globals', 'set_rng_state'
]

# Resuming goes through MMEngine's torch.load(weights_only=True); allow-list
# the types its checkpoints hold as soon as pmu's engine is imported.
register_safe_globals()
