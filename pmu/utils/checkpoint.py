"""Checkpoint loading under torch >= 2.6 and from pre-training into fine-tuning.

torch 2.6 made ``torch.load(weights_only=True)`` the default. MMEngine 0.10.x
saves, besides tensors, its message hub (``HistoryBuffer`` objects holding
numpy arrays) and a few numpy scalars, so ``--resume`` fails with "Weights only
load failed". Rather than turning safe loading off, pmu allow-lists exactly the
types MMEngine's own checkpoints contain; any other pickled object in any file
is still refused.

One of them cannot be allow-listed safely: ``HistoryBuffer.__getstate__``
pickles the class's statistics *functions*, which unpickle through
``getattr`` (allowing ``getattr`` would open the door to arbitrary code). Those
functions are re-registered on load anyway, so pmu leaves them out of the
state it saves.
"""
import contextlib
import errno
import glob
import os
import os.path as osp
import pickle
import re
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.logging import MMLogger


def mmengine_safe_globals() -> list:
    """The non-tensor types found in checkpoints written by MMEngine's runner."""
    import numpy as np
    from mmengine.logging.history_buffer import HistoryBuffer
    try:
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct, scalar
    types = [HistoryBuffer, _reconstruct, scalar, np.ndarray, np.dtype]
    # numpy >= 1.25 pickles dtypes as instances of per-type classes
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        types += [getattr(dtypes, n) for n in dir(dtypes) if n.endswith('DType')]
    return types


def _history_buffer_state(self) -> dict:
    # The statistics methods are class-level and set again by __setstate__.
    state = dict(self.__dict__)
    state.pop('statistics_methods', None)
    return state


def _history_buffer_method(owner, name):
    """What ``getattr`` may do while a checkpoint is unpickled: nothing but look up one of
    ``HistoryBuffer``'s statistics functions.

    Plain MMEngine pickles them (``HistoryBuffer.mean`` ...) as ``getattr(HistoryBuffer, 'mean')``,
    which safe loading refuses; ``HistoryBuffer.__setstate__`` merges them into the class's own
    table, so they must be the registered functions themselves. Any other ``getattr`` in a file
    (``getattr(os, 'system')``) is refused before anything is called.
    """
    from mmengine.logging.history_buffer import HistoryBuffer
    methods = {n: getattr(HistoryBuffer, n) for n in ('min', 'max', 'current', 'mean')}
    methods.update(HistoryBuffer._statistics_methods)  # and any registered with register_statistics
    if owner is HistoryBuffer and isinstance(name, str) and name in methods:
        return methods[name]
    raise pickle.UnpicklingError(
        f'getattr({getattr(owner, "__name__", type(owner).__name__)}, {name!r}) is not allowed: only the '
        f'statistics functions of MMEngine\'s HistoryBuffer ({", ".join(sorted(methods))}) may be looked up')


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be read: missing, truncated, not a torch checkpoint."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """A checkpoint file or work dir that does not exist or holds no checkpoint."""


class CheckpointMismatchError(CheckpointError):
    """A checkpoint whose weights are not the model's (another task, another model or config)."""


class CheckpointWriteError(OSError):
    """A checkpoint that could not be written (disk full, no permission); nothing was left behind."""


class NonFiniteCheckpointError(CheckpointError, ValueError):
    """A checkpoint whose weights hold NaN or infinite values."""


class UnsafeCheckpointError(CheckpointError, pickle.UnpicklingError):
    """A checkpoint holding a pickled object that safe loading does not allow (it is not run)."""


def register_safe_globals() -> None:
    """Make MMEngine's checkpoints loadable with ``torch.load(weights_only=True)``.

    Also routes MMEngine's loading of local files (``load_from``, ``--resume``)
    through :func:`load_checkpoint_file`, so its errors name the file.
    """
    from mmengine.logging.history_buffer import HistoryBuffer
    from mmengine.runner.checkpoint import CheckpointLoader
    HistoryBuffer.__getstate__ = _history_buffer_state
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is not None:  # torch >= 2.4
        add(mmengine_safe_globals())
    if CheckpointLoader._schemes.get('') is not _load_local:
        CheckpointLoader.register_scheme(prefixes='', loader=_load_local, force=True)


def _load_local(filename, map_location):
    return load_checkpoint_file(osp.expanduser(filename), map_location=map_location)


def load_checkpoint_file(path: str, map_location='cpu') -> dict:
    """``torch.load`` with safe loading on, for pmu/MMEngine checkpoints.

    Raises :class:`CheckpointError` naming ``path`` when the file is missing
    or cannot be read (truncated, not a checkpoint), and
    :class:`UnsafeCheckpointError` when it pickles anything but tensors and
    the allow-listed types (nothing in it is executed).
    """
    register_safe_globals()
    if not osp.isfile(path):
        raise CheckpointNotFoundError(f'checkpoint file {path} not found')
    try:
        with _plain_mmengine_globals():
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        lines = [line.strip() for line in str(e).strip().splitlines() if line.strip()]
        # torch names what it refused after "WeightsUnpickler error:"
        after = str(e).partition('WeightsUnpickler error:')[2]
        why = next((line.strip() for line in after.splitlines() if line.strip()), None)
        raise UnsafeCheckpointError(
            f'checkpoint {path} was refused by safe loading (torch.load weights_only=True): it holds a '
            f'pickled object other than tensors and the types of MMEngine checkpoints; nothing in it was '
            f'run. {lines[0] if lines else ""}' + (f' Refused: {why}' if why else '')) from e
    except (RuntimeError, EOFError, ValueError, OSError) as e:
        raise CheckpointError(f'cannot read checkpoint {path} ({osp.getsize(path)} bytes): truncated or not a '
                              f'torch checkpoint: {type(e).__name__}: {e}') from e


def _plain_mmengine_globals():
    """Safe loading of checkpoints written by plain MMEngine too: their message hub pickles
    ``getattr(HistoryBuffer, 'mean')`` ..., which resolves through :func:`_history_buffer_method`
    only (torch >= 2.5 allows a function under another name; older torch refuses such files)."""
    safe_globals = getattr(torch.serialization, 'safe_globals', None)
    if safe_globals is None:
        return contextlib.nullcontext()
    return safe_globals([(_history_buffer_method, 'builtins.getattr')])


def atomic_write(data: bytes, path: str) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``.

    A reader (or a run resumed after a kill at any point) sees the old file or the new one, never
    a part of one. When the write fails (a full disk, ``OSError``), the temporary file is removed
    and :class:`CheckpointWriteError` says what happened; ``path`` is left as it was. The same
    holds when the write is interrupted (``SystemExit`` from a SIGTERM handler, ``KeyboardInterrupt``).
    """
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = osp.join(folder, f'.{osp.basename(path)}.tmp-{os.getpid()}')
    try:
        with open(tmp, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        if isinstance(e, OSError):
            reason = e.strerror or str(e)
            hint = ' (the disk is full: free space there, then --resume)' if e.errno in (
                errno.ENOSPC, errno.EDQUOT, errno.EFBIG) else ''
            raise CheckpointWriteError(
                e.errno, f'cannot write {path} ({len(data) / 1e6:.0f} MB): {reason}{hint}; nothing was written '
                f'there (no partial file is left) and the files before it are kept') from e
        raise
    try:  # the rename itself survives a crash once the folder's entry is on disk
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this machine (one of another user counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(folder: str) -> List[str]:
    """Remove the temporary files :func:`atomic_write` left in ``folder`` when its process was killed
    (``.NAME.tmp-PID`` of a process that no longer runs); returns their names."""
    removed = []
    for path in glob.glob(osp.join(glob.escape(folder), '.*.tmp-*')):
        m = re.search(r'\.tmp-(\d+)$', path)
        if not m:
            continue
        if pid_alive(int(m.group(1))):
            continue  # a write in progress (this process's, or another run's)
        with contextlib.suppress(OSError):
            os.remove(path)
            removed.append(osp.basename(path))
    return removed


def non_finite_tensors(state: dict) -> List[str]:
    """``'name (n NaN, m inf of N)'`` for each floating-point tensor of ``state`` holding NaN or infinity."""
    bad = []
    for name, t in state.items():
        if isinstance(t, torch.Tensor) and t.is_floating_point():
            finite = torch.isfinite(t)
            if not bool(finite.all()):
                nan = int(torch.isnan(t).sum())
                bad.append(f'{name} ({nan} NaN, {int((~finite).sum()) - nan} inf of {t.numel()})')
    return bad


def check_finite_weights(state: dict, source: str) -> None:
    """Raise :class:`NonFiniteCheckpointError` naming the first tensors of ``state`` that hold NaN or
    infinity (a model evaluated or served with them gives F1 0 or NaN scores without a word)."""
    bad = non_finite_tensors(state)
    if bad:
        raise NonFiniteCheckpointError(
            f'{source} holds non-finite weights: {len(bad)} tensors with NaN or infinite values, first '
            f'{", ".join(bad[:5])}{", ..." if len(bad) > 5 else ""}. Refusing to use it: the run that wrote it '
            f'diverged (an earlier checkpoint of it, e.g. its best_*.pth, may be finite)')


def state_dict_mismatch(own: dict, state: dict) -> List[str]:
    """The key groups by which checkpoint weights ``state`` differ from a model's ``own`` state dict:
    ``['missing in checkpoint (N): a.b.* (n), ...', 'unexpected (N): ...', 'shape mismatch (N): ...']``."""
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [k for k in state if k in own and hasattr(state[k], 'shape') and hasattr(own[k], 'shape')
              and tuple(state[k].shape) != tuple(own[k].shape)]
    return [f'{name} ({len(keys)}): {_summarise(keys)}' for name, keys in (
        ('missing in checkpoint', missing), ('unexpected', unexpected), ('shape mismatch', shapes)) if keys]


def resolve_checkpoint(path: str, prefer_best: bool = False) -> str:
    """A checkpoint file, or a work dir: the checkpoint its ``last_checkpoint``
    names, else its newest ``epoch_*.pth``. With ``prefer_best``, a work dir's
    newest ``best_*.pth`` (the validation's choice) comes first."""
    if not osp.isdir(path):
        if not osp.isfile(path):
            raise CheckpointNotFoundError(f'checkpoint {path} not found: train that model first '
                                    '(docs/pretraining.md) or give its checkpoint file or work dir')
        return path
    best = glob.glob(osp.join(glob.escape(path), 'best_*.pth')) if prefer_best else []
    if best:
        return max(best, key=osp.getmtime)
    marker = osp.join(path, 'last_checkpoint')
    if osp.isfile(marker):
        with open(marker) as f:
            target = f.read().strip()
        # MMEngine writes the path as seen from where it ran; the work dir may have moved since
        for candidate in (target, osp.join(path, osp.basename(target))):
            if target and osp.isfile(candidate):
                return candidate
    epochs = glob.glob(osp.join(path, 'epoch_*.pth'))
    if epochs:
        return max(epochs, key=lambda p: int(re.search(r'epoch_(\d+)\.pth$', p).group(1)))
    raise CheckpointNotFoundError(f'work dir {path} holds no checkpoint (no last_checkpoint naming an existing '
                            'file, no epoch_*.pth): train that model first (docs/pretraining.md)')


def load_mapped_checkpoint(model: torch.nn.Module,
                           checkpoint: str,
                           key_map: Optional[Dict[str, str]] = None,
                           strict: bool = False,
                           logger: Optional[MMLogger] = None,
                           check_finite: bool = True,
                           loaded: Optional[dict] = None):
    """Load ``checkpoint`` into ``model``, renaming keys by prefix.

    ``checkpoint`` is a file or a work dir (see :func:`resolve_checkpoint`).
    ``key_map`` maps a source prefix to a target prefix, e.g.
    ``{'text_encoder.': 'text_encoder.', 'fusion.': 'fusion.'}``; keys that
    match no source prefix are left out (a pre-training checkpoint also holds
    its losses' heads and projections). Regular expressions are allowed as
    sources (``re:^student\\.``). Missing and unexpected keys are reported.
    MMEngine's ``load_checkpoint(revise_keys=...)`` cannot stand in: it
    renames keys but keeps them all (a pre-training checkpoint's
    ``itm_head.*``, ``coe_head.*``, ``text_proj.*`` ... would come in as
    unexpected keys), and its loader skips the enlarged embedding matrix
    below instead of loading the rows both have.

    A tensor whose shape differs from the model's in its first dimension only
    (a word-embedding matrix enlarged by the MRE entity markers) loads the
    rows both have; the model's other rows keep their initialisation. Any
    other shape difference is skipped and reported.

    Only the weights (``state_dict``) are read: a checkpoint written by plain
    MMEngine (no random states, its message hub pickling HistoryBuffer's
    statistics functions) loads as well as pmu's own, safely. A checkpoint
    whose weights hold NaN or infinity is refused
    (:class:`NonFiniteCheckpointError`, naming the first such tensors) unless
    ``check_finite=False``. With ``strict`` and no ``key_map``, a checkpoint
    of another task than the model's (MNER weights for an MRE model) is
    refused saying so (:class:`CheckpointMismatchError`,
    :func:`checkpoint_task`); any other mismatch names the key groups.

    ``loaded``: the checkpoint file ``checkpoint`` already read (:func:`load_checkpoint_file`), e.g. by
    :func:`pmu.apis.config.check_checkpoint_matches`; it is used as it is (and its weights may be changed)
    instead of reading the file again, and ``checkpoint`` names it in messages.
    """
    logger = logger or MMLogger.get_current_instance()
    if loaded is None:
        checkpoint = resolve_checkpoint(checkpoint)
        ckpt = load_checkpoint_file(checkpoint)
    else:
        ckpt = loaded
    state = ckpt.get('state_dict', ckpt)
    if strict and not key_map:  # the weights of another task: say so, not only which keys differ
        check_checkpoint_task(ckpt, checkpoint, model_task(model))
    if check_finite:
        check_finite_weights(state, f'checkpoint {checkpoint}')
    if key_map:
        mapped = OrderedDict()
        for key, value in state.items():
            for src, dst in key_map.items():
                if src.startswith('re:'):
                    new, n = re.subn(src[3:], dst, key, count=1)
                    if n:
                        mapped[new] = value
                        break
                elif key.startswith(src):
                    mapped[dst + key[len(src):]] = value
                    break
        state = mapped
    own = model.state_dict()
    shape_mismatch, partial = [], []
    for k, v in list(state.items()):
        if k not in own or own[k].shape == v.shape:
            continue
        if v.dim() == own[k].dim() and v.dim() > 0 and v.shape[1:] == own[k].shape[1:]:
            rows = min(v.shape[0], own[k].shape[0])
            merged = own[k].clone()
            merged[:rows] = v[:rows].to(merged.dtype)
            state[k] = merged
            partial.append((k, rows, own[k].shape[0] - rows, v.shape[0] - rows))
        else:
            shape_mismatch.append(k)
            state.pop(k)
    result = model.load_state_dict(state, strict=False)
    logger.info(
        f'Loaded {len(state) - len(result.unexpected_keys)} tensors from {checkpoint}; '
        f'missing in checkpoint: {len(result.missing_keys)}, unexpected: '
        f'{len(result.unexpected_keys)}, shape mismatch (skipped): {len(shape_mismatch)}, '
        f'partly loaded: {len(partial)}')
    groups = [(name, keys) for name, keys in (
        ('missing in checkpoint', result.missing_keys), ('unexpected', result.unexpected_keys),
        ('shape mismatch', shape_mismatch), ('partly loaded', [p[0] for p in partial])) if keys]
    # A full-model load (no key map) that does not match is worth a warning.
    report = logger.info if key_map or strict else getattr(logger, 'warning', logger.info)
    for name, keys in groups:
        if name == 'partly loaded':
            continue
        report(f'  {name}: {_summarise(keys)}')
    for k, loaded, kept, dropped in partial:
        report(f'  {k}: {loaded} rows loaded, {kept} new rows kept'
               + (f', {dropped} rows of the checkpoint left out' if dropped else ''))
    if strict and groups:
        detail = '; '.join(f'{name} ({len(keys)}): {_summarise(keys)}' for name, keys in groups)
        raise CheckpointMismatchError(
            f'{checkpoint} does not match the model {type(model).__name__} (strict=True): {detail}. Is it a '
            'checkpoint of another model or config?')
    return result


def checkpoint_task(ckpt: dict) -> Optional[Tuple[str, str]]:
    """``(task, what shows it)`` of a loaded checkpoint: ``('MNER', 'its head has 9 tags: O, B-PER, ...')``
    or ``('MRE', 'its head has 23 relations: None, /per/per/parent, ...')``; None when it is neither.

    The dataset's ``tags`` or ``relations`` that MMEngine's runner saves in ``meta.dataset_meta`` tell;
    without them, the state dict: a CRF head (``head.crf.*``) is MNER's, a relation classifier
    (``head.mlp.*``) MRE's.
    """
    meta = ckpt.get('meta') if isinstance(ckpt.get('meta'), dict) else {}
    dataset_meta = meta.get('dataset_meta') if isinstance(meta.get('dataset_meta'), dict) else {}
    for task, key in (('MNER', 'tags'), ('MRE', 'relations')):
        names = dataset_meta.get(key)
        if isinstance(names, str):  # a tuple saved as its text
            import ast
            try:
                names = ast.literal_eval(names)
            except (ValueError, SyntaxError):
                names = None
        if isinstance(names, (list, tuple)) and names:
            return task, f'its head has {len(names)} {key}: {first_names(names)}'
    state = ckpt.get('state_dict', ckpt)
    crf = state.get('head.crf.transitions')
    if crf is not None:
        return 'MNER', f'its head is a CRF over {crf.shape[0]} tags'
    mlp = sorted(k for k in state if k.startswith('head.mlp.') and k.endswith('.weight'))
    if mlp:
        return 'MRE', f'its head is a relation classifier over {state[mlp[-1]].shape[0]} relations'
    return None


def model_task(model: torch.nn.Module) -> Optional[Tuple[str, str]]:
    """``(task, what shows it)`` of a built model, as :func:`checkpoint_task` says it of a checkpoint."""
    for task, key in (('MNER', 'tags'), ('MRE', 'relations')):
        names = getattr(model, key, None)
        if isinstance(names, (list, tuple)) and names:
            return task, f'{type(model).__name__}, {len(names)} {key}: {first_names(names)}'
    return None


def check_checkpoint_task(ckpt: dict, source: str, task: Optional[Tuple[str, str]]) -> None:
    """Raise :class:`CheckpointMismatchError` when checkpoint ``ckpt`` (read from ``source``) is of another
    task than ``task`` (``('MRE', 'MultimodalRE, 23 relations: ...')``, what the config builds)."""
    own = checkpoint_task(ckpt)
    if own is None or task is None or own[0] == task[0]:
        return
    meta = ckpt.get('meta') if isinstance(ckpt.get('meta'), dict) else {}
    name = re.sub(r'_\d{8}_\d{6}$', '', str(meta.get('experiment_name') or ''))
    raise CheckpointMismatchError(
        f'{source} is an {own[0]} checkpoint ({own[1]}{f"; trained with config {name}" if name else ""}), the '
        f'config builds an {task[0]} model ({task[1]}): give the checkpoint of a run of this config, or the '
        f'config that trained it')


def first_names(names, limit: int = 5) -> str:
    """``'O, B-PER, I-PER, B-LOC, I-LOC, ...'``: the first ``limit`` names, for a message."""
    return ', '.join(map(str, names[:limit])) + (', ...' if len(names) > limit else '')


def _summarise(keys, limit: int = 8) -> str:
    """Keys grouped by their first two components, so the log stays short."""
    groups = OrderedDict()
    for k in keys:
        g = '.'.join(k.split('.')[:2])
        groups[g] = groups.get(g, 0) + 1
    parts = [f'{g}.* ({n})' for g, n in list(groups.items())[:limit]]
    more = len(groups) - limit
    return ', '.join(parts) + (f', ... {more} more groups' if more > 0 else '')
