"""Checkpoints a user can afford and trust: written atomically, the newest before the oldest is
removed, the final one slim, nothing outside the work dir removed, a resume that matches the model."""
import copy
import os
import os.path as osp
import shutil
import warnings
from collections import deque

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend, register_backend
from mmengine.fileio.backends.registry_utils import backends as _file_backends
from mmengine.hooks import CheckpointHook as _MMEngineCheckpointHook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from pmu.registry import HOOKS
from pmu.utils.checkpoint import atomic_write, register_safe_globals, remove_stale_temporaries, state_dict_mismatch

# MMEngine's local file backend, writing through a temporary file and os.replace
ATOMIC_BACKEND = 'pmu_atomic_local'


class AtomicLocalBackend(LocalBackend):
    """MMEngine's ``LocalBackend`` whose writes are atomic (:func:`pmu.utils.checkpoint.atomic_write`):
    a checkpoint file is the old one or the whole new one, never a part (a kill or SIGTERM while it
    is written), and a full disk leaves no partial file and raises ``CheckpointWriteError``."""

    def put(self, obj: bytes, filepath) -> None:
        atomic_write(obj, str(filepath))

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        atomic_write(obj.encode(encoding), str(filepath))


def register_atomic_backend() -> None:
    """Make ``backend_args=dict(backend='pmu_atomic_local')`` known to MMEngine's file I/O (done
    when an :class:`AtomicCheckpointHook` is built, not when pmu is imported)."""
    if _file_backends.get(ATOMIC_BACKEND) is not AtomicLocalBackend:
        register_backend(ATOMIC_BACKEND, AtomicLocalBackend, force=True)


def _megabytes(path: str) -> str:
    return f'{os.path.getsize(path) / 1e6:.0f} MB' if osp.isfile(path) else 'size unknown'


def _inside(path: str, folder: str) -> bool:
    path, folder = osp.realpath(path), osp.realpath(folder)
    return osp.commonpath([path, folder]) == folder


def _atomic_copy(src: str, dst: str) -> None:
    tmp = osp.join(osp.dirname(dst), f'.{osp.basename(dst)}.tmp-{os.getpid()}')
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def _schedulers(value):
    """``[(name, [schedulers or their states])]`` of a runner's ``param_schedulers`` (a list, or a dict
    of lists for several optimizers) or of a checkpoint's."""
    if isinstance(value, dict):
        return [(k, list(v)) for k, v in value.items()]
    return [(None, list(value))] if isinstance(value, (list, tuple)) else []


@HOOKS.register_module()
class AtomicCheckpointHook(_MMEngineCheckpointHook):
    """MMEngine's ``CheckpointHook`` with atomic writes and checked resumes
    (``default_hooks.checkpoint`` of pmu's ``default_runtime.py``; a config that
    writes ``type='CheckpointHook'`` gets MMEngine's own). The changes:

    - Every checkpoint (epoch, iteration, best) is written to a temporary
      file in the same folder and renamed (``os.replace``): a run killed or
      stopped (SIGTERM) while it writes leaves the previous file whole, and a
      full disk stops the run with ``CheckpointWriteError`` and no partial
      file. ``last_checkpoint`` (written the same way), ``self.last_ckpt``
      and the list of kept checkpoints change only once the new file is in
      place; the checkpoint itself records them as they are with it in place
      (so that a run resumed from it goes on from there). Temporary files of
      killed runs are removed when training starts.
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
    - ``--resume PATH`` with a checkpoint of another work dir: that run's best
      checkpoint is copied into this work dir (this run's best so far);
      nothing outside this work dir is ever removed.
    - ``--resume`` refuses a checkpoint whose weights do not match the model
      (another model or config), naming the missing and unexpected key groups.
    - ``--resume`` with a longer (or shorter) ``train_cfg.max_epochs`` than the
      checkpoint's run: the checkpoint's learning-rate schedule (which would
      train every new epoch at its final rate, 0 after a decay) is replaced by
      the config's, advanced to the resumed iteration (the rate a run planned
      for the new length has there), with a warning.

    Every checkpoint written is logged with its size. Before the run (training,
    validation or testing, ahead of ``load_from`` and ``--resume``) it allows the
    types of MMEngine's checkpoints in ``torch.load(weights_only=True)``
    (:func:`pmu.utils.checkpoint.register_safe_globals`).
    """

    def __init__(self, *args, final_optimizer: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.final_optimizer = final_optimizer
        out_dir = self.out_dir
        if (self.backend_args is None and self.file_client_args is None
                and (out_dir is None or '://' not in str(out_dir))):
            register_atomic_backend()
            self.backend_args = dict(backend=ATOMIC_BACKEND)
        self._schedule_changed = None

    def before_run(self, runner) -> None:
        super().before_run(runner)
        # the runner loads load_from / --resume after before_run, through torch.load(weights_only=True)
        register_safe_globals()

    # ------------------------------------------------------------------ training start

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if is_main_process() and self.backend_args == dict(backend=ATOMIC_BACKEND):
            removed = [n for d in {self.out_dir, runner.work_dir} if osp.isdir(d)
                       for n in remove_stale_temporaries(d)]
            if removed:
                print_log(f'removed {len(removed)} temporary files of writes a killed run left unfinished: '
                          f'{", ".join(sorted(removed))}', logger='current', level=30)
        if self.save_best is not None:
            self._adopt_outside_best(runner)
        if self._schedule_changed is not None:
            self._rebuild_schedule(runner)

    def _adopt_outside_best(self, runner) -> None:
        """A best checkpoint recorded outside this work dir (``--resume`` of another run's checkpoint)
        is copied in, so that the run has its best so far and never removes the other run's."""
        if len(self.key_indicators) == 1:
            entries = [('best_ckpt', self.best_ckpt_path)]
        else:
            entries = [(f'best_ckpt_{k}', p) for k, p in self.best_ckpt_path_dict.items()]
        for info_key, path in entries:
            if not path or _inside(path, self.out_dir):
                continue
            new = osp.join(self.out_dir, osp.basename(path))
            if osp.isfile(path):
                if is_main_process():
                    _atomic_copy(path, new)
                print_log(f'the resumed checkpoint comes from another work dir: its best checkpoint {path} is '
                          f'copied to {new} (checkpoints outside {self.out_dir} are never removed)',
                          logger='current')
            else:
                new = None
                print_log(f'the resumed checkpoint comes from another work dir, whose best checkpoint {path} '
                          f'no longer exists: this run keeps a best checkpoint once it beats that score '
                          f'({runner.message_hub.get_info("best_score")})', logger='current', level=30)
            if len(self.key_indicators) == 1:
                self.best_ckpt_path = new
            else:
                self.best_ckpt_path_dict[info_key[len('best_ckpt_'):]] = new
            if new is None:
                runner.message_hub.runtime_info.pop(info_key, None)
            else:
                runner.message_hub.update_info(info_key, new)

    # ------------------------------------------------------------------ writing

    def _is_final(self, runner, step: int) -> bool:
        # step: the epoch (iteration) the checkpoint ends; MMEngine saves it again after validation
        # when the best score changed, by then with runner.epoch counted up
        return step == (runner.max_epochs if self.by_epoch else runner.max_iters)

    def _save_checkpoint_with_step(self, runner, step, meta):
        hub = runner.message_hub
        ckpt_filename = self.filename_tmpl.format(step)
        path = self.file_backend.join_path(self.out_dir, ckpt_filename)
        # MMEngine writes a checkpoint again after validation when the best score changed
        again = bool(self.last_ckpt) and osp.basename(self.last_ckpt) == ckpt_filename
        stale, keep = None, None
        if self.max_keep_ckpts > 0:
            keep = deque(self.keep_ckpt_ids, self.max_keep_ckpts)
            if not again:
                if len(keep) == self.max_keep_ckpts:
                    stale = keep.popleft()  # removed once the new one is on disk
                keep.append(step)
        # the checkpoint records the state with itself in place; put back if it cannot be written
        before = {k: hub.runtime_info[k] for k in ('keep_ckpt_ids', 'last_ckpt') if k in hub.runtime_info}
        if keep is not None:
            hub.update_info('keep_ckpt_ids', list(keep))
        hub.update_info('last_ckpt', path)
        slim = self.save_optimizer and not self.final_optimizer and self._is_final(runner, step)
        try:
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
        except BaseException:
            for k in ('keep_ckpt_ids', 'last_ckpt'):
                if k in before:
                    hub.update_info(k, before[k])
                else:
                    hub.runtime_info.pop(k, None)
            raise
        # the new file is in place: now the hook's state, last_checkpoint and the removal of the oldest
        if keep is not None:
            self.keep_ckpt_ids = keep
        self.last_ckpt = path
        if not is_main_process():
            return
        atomic_write(str(path).encode(), osp.join(runner.work_dir, 'last_checkpoint'))
        if not again:
            what = ('weights only, the run is finished (default_hooks.checkpoint.final_optimizer=True keeps the '
                    'optimizer state)' if slim else 'with optimizer state' if self.save_optimizer else 'weights only')
            print_log(f'{ckpt_filename}: {_megabytes(path)}, {what}', logger='current')
        if stale is not None:
            old = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(stale))
            if self.file_backend.isfile(old):
                self.file_backend.remove(old)
            elif self.file_backend.isdir(old):  # checkpoints saved by deepspeed are directories
                self.file_backend.rmtree(old)

    # ------------------------------------------------------------------ resuming

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if not getattr(runner, '_resume', False):
            return  # load_from: MMEngine's non-strict loading of weights
        self._check_model_matches(runner, checkpoint)
        if 'optimizer' not in checkpoint:
            print_log(
                'resuming from a checkpoint without optimizer state (the final checkpoint of a finished run is '
                'saved without it; default_hooks.checkpoint.final_optimizer=True keeps it): the optimizer starts '
                'afresh, its moment estimates at zero', logger='current', level=30)
        self._check_schedule(runner, checkpoint)

    @staticmethod
    def _check_model_matches(runner, checkpoint: dict) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        state = checkpoint.get('state_dict', {})
        state = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}
        groups = state_dict_mismatch(model.state_dict(), state)
        if groups:
            source = runner._load_from or osp.join(runner.work_dir, 'last_checkpoint')
            raise RuntimeError(
                f'--resume {source}: the checkpoint does not match the model {type(model).__name__}: '
                f'{"; ".join(groups)}. It is a checkpoint of another model or config: resume it with the '
                f'config that wrote it, or start a new run from its weights with '
                f'--cfg-options load_from=PATH (non-strict, without --resume)')

    def _check_schedule(self, runner, checkpoint: dict) -> None:
        """A resumed run whose schedule the config changed (``train_cfg.max_epochs``): the checkpoint's
        scheduler states are left out, :meth:`_rebuild_schedule` advances the config's."""
        saved, built = _schedulers(checkpoint.get('param_schedulers')), _schedulers(runner.param_schedulers)
        if not saved or [n for n, _ in saved] != [n for n, _ in built]:
            return
        changed = []
        for (_, states), (_, schedulers) in zip(saved, built):
            if len(states) != len(schedulers) or not all(
                    hasattr(b, 'begin') and isinstance(s, dict) and 'begin' in s and 'end' in s
                    for s, b in zip(states, schedulers)):
                return  # schedulers of another kind: MMEngine loads their states as they are
            changed += [(s.get('begin'), s.get('end'), b.begin, b.end) for s, b in zip(states, schedulers)
                        if (s.get('begin'), s.get('end')) != (b.begin, b.end)]
        if changed:
            checkpoint.pop('param_schedulers')
            old_lr = [v for _, states in saved for s in states for v in s.get('_last_value', [])[:1]]
            self._schedule_changed = dict(old_end=max(c[1] for c in changed), new_end=max(c[3] for c in changed),
                                          old_lr=old_lr[-1] if old_lr else None)

    def _rebuild_schedule(self, runner) -> None:
        """The config's schedulers, built again and stepped to the resumed iteration exactly as
        ParamSchedulerHook steps them in a run planned for ``train_cfg.max_epochs`` from the start."""
        info, self._schedule_changed = self._schedule_changed, None
        optim = runner.optim_wrapper
        names = {s.param_name for _, group in _schedulers(runner.param_schedulers) for s in group}
        wrappers = list(optim.optim_wrappers.values()) if hasattr(optim, 'optim_wrappers') else [optim]
        counters = {}
        for w in wrappers:
            for group in w.param_groups:
                for name in names:
                    if f'initial_{name}' in group:
                        group[name] = group[f'initial_{name}']
            counters[id(w)] = (w, getattr(w.optimizer, '_global_step', None))
        runner.param_schedulers = runner.build_param_scheduler(copy.deepcopy(runner.cfg.param_scheduler))
        flat = [s for _, group in _schedulers(runner.param_schedulers) for s in group]
        epoch_length = len(runner.train_dataloader)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # "scheduler.step() before optimizer.step()": no step is taken
            for k in range(runner.iter):
                for s in flat:
                    if not s.by_epoch:
                        s.step()
                if (k + 1) % epoch_length == 0:
                    for s in flat:
                        if s.by_epoch:
                            s.step()
        for w, count in counters.values():
            if count is not None:
                w.optimizer._global_step = count
        lr = runner.optim_wrapper.get_lr()
        lr = next(iter(lr.values()))[0] if isinstance(lr, dict) and lr else lr
        old = f' (it would train at lr {info["old_lr"]:.3g} from here)' if info['old_lr'] is not None else ''
        print_log(
            f'--resume at iteration {runner.iter} (epoch {runner.epoch}) with train_cfg.max_epochs='
            f'{runner.max_epochs}: the checkpoint\'s learning-rate schedule was planned for another length and '
            f'ends at iteration {info["old_end"]}{old}; it is rebuilt from the config for {runner.max_epochs} '
            f'epochs (ending at iteration {info["new_end"]}): lr {lr:.3g} at iteration {runner.iter + 1}, the '
            f'rate a run planned for {runner.max_epochs} epochs has there', logger='current', level=30)
