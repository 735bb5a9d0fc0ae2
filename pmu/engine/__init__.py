from pmu.utils.checkpoint import load_checkpoint_file, load_mapped_checkpoint, register_safe_globals
from .hooks import *  # noqa: F401,F403
from .optim_wrapper import AutocastOptimWrapper
from .schedulers import SpanLinearLR

__all__ = [
    'AutocastOptimWrapper', 'SpanLinearLR', 'load_checkpoint_file', 'load_mapped_checkpoint', 'register_safe_globals'
]

# Resuming goes through MMEngine's torch.load(weights_only=True); allow-list
# the types its checkpoints hold as soon as pmu's engine is imported.
register_safe_globals()
