"""Exact resume: the random number generators and the position in the epoch.

MMEngine's ``--resume`` restores weights, optimizer, schedulers and the
iteration count, but neither the random number generators (dropout, the
data augmentations) nor where in the epoch an iteration-interval checkpoint
was written: its epoch-based loop starts the interrupted epoch again. Here

- :class:`~pmu.engine.hooks.RNGStateHook` writes the states of python's
  ``random``, numpy, torch (CPU and every CUDA device) into each checkpoint
  (``checkpoint['rng_state']``, types that safe loading accepts): the states
  the next training iteration starts from, also for a checkpoint written
  during validation (MMEngine writes the epoch checkpoint again after a new
  best score, ``save_best``);
- :class:`ResumableEpochBasedTrainLoop` (``train_cfg.type`` of pmu's
  schedules; MMEngine's ``EpochBasedTrainLoop`` keeps its own name and
  class), continues a resumed
  epoch at the batch after the checkpoint, in the sampler's order of that
  epoch, and sets the generators back to the checkpoint's states just
  before that batch is loaded.

So a run killed at any point and resumed from its last checkpoint ends with
the same weights as the uninterrupted run (bitwise on CPU). Two draws that
only depend on when a process started are kept out of the generators'
streams: creating a dataloader iterator (torch draws a worker base seed) and
validation. Worker processes (``num_workers > 0``) keep their own
generators; a resumed run replays the data loading of the batches before the
checkpoint (of earlier epochs too with ``persistent_workers``) without
training on them, so the workers' augmentations continue where they were.
"""
import contextlib
import itertools
import random
from typing import Optional

import numpy as np
import torch
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop
from torch.utils.data import BatchSampler

from pmu.registry import LOOPS

# Where RNGStateHook leaves a loaded checkpoint's states for the loop.
RNG_INFO_KEY = 'pmu_checkpoint_rng_state'


def get_rng_state() -> dict:
    """The states of python's ``random``, numpy and torch (CPU, CUDA), as tensors, lists and numbers."""
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = dict(
        python=[int(version), [int(x) for x in internal], gauss],
        numpy=dict(name=str(name), keys=torch.from_numpy(np.asarray(keys, dtype=np.int64)), pos=int(pos),
                   has_gauss=int(has_gauss), cached_gaussian=float(cached)),
        torch=torch.get_rng_state(),
    )
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Set the generators back to ``state`` (from :func:`get_rng_state`)."""
    version, internal, gauss = state['python']
    random.setstate((version, tuple(internal), gauss))
    n = state['numpy']
    np.random.set_state((n['name'], n['keys'].numpy().astype(np.uint32), n['pos'], n['has_gauss'],
                         n['cached_gaussian']))
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        if len(state['cuda']) != torch.cuda.device_count():
            print_log(f'the checkpoint holds the RNG states of {len(state["cuda"])} CUDA devices, this machine has '
                      f'{torch.cuda.device_count()}: CUDA generators are not restored', logger='current',
                      level=30)
        else:
            torch.cuda.set_rng_state_all(state['cuda'])


@contextlib.contextmanager
def rng_preserved():
    """Run a block without advancing the generators (what it draws is not part of the run's stream);
    yields the states the generators are set back to."""
    state = get_rng_state()
    try:
        yield state
    finally:
        set_rng_state(state)


def checkpoint_rng_state(runner) -> dict:
    """The generator states a checkpoint written now must hold: those the next training iteration
    starts from. During validation (which :class:`ResumableEpochBasedTrainLoop` keeps out of the
    training stream) these are the states from before it, not the current ones."""
    loop = getattr(runner, '_train_loop', None)
    state = getattr(loop, 'training_rng_state', None)
    return state if state is not None else get_rng_state()


class _SkipFirst:
    """A sampler that leaves out the first ``n`` indices of another (a resumed epoch)."""

    def __init__(self, sampler, n: int):
        self.sampler, self.n = sampler, n

    def __iter__(self):
        return itertools.islice(iter(self.sampler), self.n, None)

    def __len__(self):  # the epoch's length stays what the hooks and the log expect
        return len(self.sampler)


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(EpochBasedTrainLoop):
    """MMEngine's ``EpochBasedTrainLoop`` that resumes in the middle of an epoch, exactly.

    Same arguments as MMEngine's. After ``--resume`` from a checkpoint written
    after ``k`` iterations of an epoch, the epoch goes on with its batch
    ``k + 1`` (the sampler's order of that epoch; DefaultSampler's shuffle
    depends on the seed and the epoch only), and the random generators are
    those of the checkpoint (:class:`~pmu.engine.hooks.RNGStateHook`).
    Validation and the creation of dataloader iterators draw nothing from
    the run's generators, so neither shifts the stream between a checkpoint
    and the next batch.
    """

    training_rng_state: Optional[dict] = None  # while validating: the states training goes on with

    def run(self) -> torch.nn.Module:
        """MMEngine's loop, with validation kept out of the generators' streams."""
        self._resumed = self._iter > 0
        self.runner.call_hook('before_train')
        while self._epoch < self._max_epochs and not self.stop_training:
            self.run_epoch()
            self._decide_current_val_interval()
            if (self.runner.val_loop is not None and self._epoch >= self.val_begin
                    and (self._epoch % self.val_interval == 0 or self._epoch == self._max_epochs)):
                with rng_preserved() as self.training_rng_state:
                    # a checkpoint written during validation (after a new best score) records the
                    # states training goes on with (checkpoint_rng_state), not those validation advanced
                    try:
                        self.runner.val_loop.run()
                    finally:
                        self.training_rng_state = None
        self.runner.call_hook('after_train')
        return self.runner.model

    def run_epoch(self) -> None:
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        length = len(self.dataloader)
        done = self._iter - self._epoch * length
        if not 0 <= done <= length:
            raise RuntimeError(
                f'cannot resume at iteration {self._iter} of epoch {self._epoch + 1}: an epoch has {length} '
                f'iterations here, so the checkpoint was written with another dataset size, batch size or '
                f'number of processes')
        resuming = getattr(self, '_resumed', False)
        state = self._pop_resumed_rng_state()
        batch_sampler = self.dataloader.batch_sampler
        inner = batch_sampler.sampler if isinstance(batch_sampler, BatchSampler) else None
        try:
            batches = self._epoch_batches(done, resuming)
            if state is not None:
                set_rng_state(state)
            for idx, data_batch in zip(range(done, length), batches):
                self.run_iter(idx, data_batch)
        finally:
            if inner is not None:
                batch_sampler.sampler = inner
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1

    def _pop_resumed_rng_state(self) -> Optional[dict]:
        state = self.runner.message_hub.runtime_info.pop(RNG_INFO_KEY, None)
        if not getattr(self, '_resumed', False):
            return None  # a checkpoint given by load_from: its generators are not the run's
        self._resumed = False
        if state is None:
            print_log('resumed from a checkpoint without random generator states (written without '
                      'RNGStateHook): the run goes on, but not as the interrupted one would have',
                      logger='current', level=30)
        return state

    def _epoch_batches(self, done: int, resuming: bool = False):
        """An iterator over this epoch's batches after the first ``done`` (created without drawing
        from the run's generators). Resuming with persistent worker processes, the loading of the
        earlier epochs is replayed, at an epoch's start too, so that the workers' generators continue
        where they were."""
        loader = self.dataloader
        with rng_preserved():
            replay_workers = resuming and loader.num_workers and loader.persistent_workers and self._epoch
            if not done and not replay_workers:
                return iter(loader)
            batch_sampler = loader.batch_sampler
            if (not loader.num_workers and type(batch_sampler) is BatchSampler and not batch_sampler.drop_last):
                # No worker generators to advance: leave the indices out without loading them (the
                # batch sampler reads its sampler lazily; run_epoch puts the original back).
                batch_sampler.sampler = _SkipFirst(batch_sampler.sampler, done * batch_sampler.batch_size)
                print_log(f'resumed in epoch {self._epoch + 1} after batch {done}/{len(loader)}', logger='current')
                return iter(loader)
            replayed = 0
            sampler = getattr(loader, 'sampler', None)
            if loader.num_workers and loader.persistent_workers and self._epoch:
                for epoch in range(self._epoch):
                    if hasattr(sampler, 'set_epoch'):
                        sampler.set_epoch(epoch)
                    replayed += sum(1 for _ in loader)
                if hasattr(sampler, 'set_epoch'):
                    sampler.set_epoch(self._epoch)
            batches = iter(loader)
            for _ in range(done):
                next(batches)
            print_log(f'resumed in epoch {self._epoch + 1} after batch {done}/{len(loader)}; replayed the '
                      f'loading of {replayed + done} batches (not trained on) so that data loading, and the '
                      f'worker processes\' generators, continue where they were', logger='current')
            return batches
