"""Checkpoints a user can afford: the newest one written before the oldest is removed, the final one slim."""
import os
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook as _MMEngineCheckpointHook
from mmengine.logging import print_log

from pmu.registry import HOOKS


def _megabytes(path: str) -> str:
    return f'{os.path.getsize(path) / 1e6:.0f} MB' if osp.isfile(path) else 'size unknown'


@HOOKS.register_module()
class CheckpointHook(_MMEngineCheckpointHook):
    """MMEngine's ``CheckpointHook`` (pmu's configs get it as ``CheckpointHook``) with two changes.

    - ``max_keep_ckpts``: the new checkpoint is written **before** the oldest
      one is removed (MMEngine removes first, so with ``max_keep_ckpts=1`` a
      run killed while saving had no checkpoint left).
    - ``final_optimizer=False`` (new): the checkpoint written at the end of
      training holds the weights, schedulers, message hub and random states,
      but not the optimizer state. AdamW keeps two tensors per parameter, so
      this is two thirds of an epoch checkpoint (lite: 287 MB → 106 MB;
      MPNet-base: 1.33 GB → 0.46 GB), and a finished run has no use for it
      unless it is continued with more epochs (``--resume`` then warns that the
      optimizer starts afresh). ``True`` keeps it.

    Every checkpoint written is logged with its size.
    """

    def __init__(self, *args, final_optimizer: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.final_optimizer = final_optimizer

    def _is_final(self, runner, step: int) -> bool:
        # step: the epoch (iteration) the checkpoint ends; MMEngine saves it again after validation
        # when the best score changed, by then with runner.epoch counted up
        return step == (runner.max_epochs if self.by_epoch else runner.max_iters)

    def _save_checkpoint_with_step(self, runner, step, meta):
        stale = None
        # MMEngine writes a checkpoint again after validation when the best score changed
        again = bool(self.last_ckpt) and osp.basename(self.last_ckpt) == self.filename_tmpl.format(step)
        if self.max_keep_ckpts > 0 and not again:
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                stale = self.keep_ckpt_ids.popleft()  # removed once the new one is on disk
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))

        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        slim = self.save_optimizer and not self.final_optimizer and self._is_final(runner, step)
        runner.save_checkpoint(
            self.out_dir,
            ckpt_filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer and not slim,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        if not is_main_process():
            return
        with open(osp.join(runner.work_dir, 'last_checkpoint'), 'w') as f:
            f.write(self.last_ckpt)
        if not again:
            what = ('weights only, the run is finished (default_hooks.checkpoint.final_optimizer=True keeps the '
                    'optimizer state)' if slim else 'with optimizer state' if self.save_optimizer else 'weights only')
            print_log(f'{ckpt_filename}: {_megabytes(self.last_ckpt)}, {what}', logger='current')
        if stale is not None:
            path = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(stale))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):  # checkpoints saved by deepspeed are directories
                self.file_backend.rmtree(path)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if getattr(runner, '_resume', False) and 'optimizer' not in checkpoint:
            print_log(
                'resuming from a checkpoint without optimizer state (the final checkpoint of a finished run is '
                'saved without it; default_hooks.checkpoint.final_optimizer=True keeps it): the optimizer starts '
                'afresh, its moment estimates at zero', logger='current', level=30)
