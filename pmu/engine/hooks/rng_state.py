"""Random generator states in every checkpoint, for an exact ``--resume``."""
from mmengine.hooks import Hook

from pmu.engine.resume import RNG_INFO_KEY, checkpoint_rng_state
from pmu.registry import HOOKS


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Writes the random generators' states into each checkpoint; hands them to the loop on resume.

    ``checkpoint['rng_state']`` holds python's ``random``, numpy's and torch's
    (CPU, and CUDA when in use) states as tensors, lists and numbers, which
    safe loading (``torch.load(weights_only=True)``) accepts. On ``--resume``,
    :class:`~pmu.engine.resume.ResumableEpochBasedTrainLoop` sets them back
    just before the first batch after the checkpoint is loaded, so dropout
    and data augmentation continue as in the interrupted run. Checkpoints
    written at the end of an epoch and at an iteration interval both carry
    them; so does the epoch checkpoint MMEngine writes again after
    validation found a new best score (``save_best``): with the states
    training goes on with, not those validation advanced.
    """

    priority = 'VERY_LOW'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['rng_state'] = checkpoint_rng_state(runner)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if 'rng_state' in checkpoint:
            # not resumed itself: the loop takes it at the next epoch start
            runner.message_hub.update_info(RNG_INFO_KEY, checkpoint['rng_state'], resumed=False)
