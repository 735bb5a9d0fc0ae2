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
import glob
import os.path as osp
import pickle
import re
from collections import OrderedDict
from typing import Dict, Optional

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


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be read: missing, truncated, not a torch checkpoint."""


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
        raise CheckpointError(f'checkpoint file {path} not found')
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()
        raise UnsafeCheckpointError(
            f'checkpoint {path} was refused by safe loading (torch.load weights_only=True): it holds a '
            f'pickled object other than tensors and the types of MMEngine checkpoints; nothing in it was '
            f'run. {first[0] if first else ""}') from e
    except (RuntimeError, EOFError, ValueError, OSError) as e:
        raise CheckpointError(f'cannot read checkpoint {path} ({osp.getsize(path)} bytes): truncated or not a '
                              f'torch checkpoint: {type(e).__name__}: {e}') from e


def resolve_checkpoint(path: str, prefer_best: bool = False) -> str:
    """A checkpoint file, or a work dir: the checkpoint its ``last_checkpoint``
    names, else its newest ``epoch_*.pth``. With ``prefer_best``, a work dir's
    newest ``best_*.pth`` (the validation's choice) comes first."""
    if not osp.isdir(path):
        if not osp.isfile(path):
            raise FileNotFoundError(f'checkpoint {path} not found: train that model first '
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
    raise FileNotFoundError(f'work dir {path} holds no checkpoint (no last_checkpoint naming an existing '
                            'file, no epoch_*.pth): train that model first (docs/pretraining.md)')


def load_mapped_checkpoint(model: torch.nn.Module,
                           checkpoint: str,
                           key_map: Optional[Dict[str, str]] = None,
                           strict: bool = False,
                           logger: Optional[MMLogger] = None):
    """Load ``checkpoint`` into ``model``, renaming keys by prefix.

    ``checkpoint`` is a file or a work dir (see :func:`resolve_checkpoint`).
    ``key_map`` maps a source prefix to a target prefix, e.g.
    ``{'text_encoder.': 'text_encoder.', 'fusion.': 'fusion.'}``; keys that
    match no source prefix are left out (a pre-training checkpoint also holds
    its losses' heads and projections). Regular expressions are allowed as
    sources (``re:^student\\.``). Missing and unexpected keys are reported.

    A tensor whose shape differs from the model's in its first dimension only
    (a word-embedding matrix enlarged by the MRE entity markers) loads the
    rows both have; the model's other rows keep their initialisation. Any
    other shape difference is skipped and reported.
    """
    logger = logger or MMLogger.get_current_instance()
    checkpoint = resolve_checkpoint(checkpoint)
    ckpt = load_checkpoint_file(checkpoint)
    state = ckpt.get('state_dict', ckpt)
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
        raise RuntimeError(f'{checkpoint} does not match the model {type(model).__name__} (strict=True): '
                           f'{detail}. Is it a checkpoint of another model or config?')
    return result


def _summarise(keys, limit: int = 8) -> str:
    """Keys grouped by their first two components, so the log stays short."""
    groups = OrderedDict()
    for k in keys:
        g = '.'.join(k.split('.')[:2])
        groups[g] = groups.get(g, 0) + 1
    parts = [f'{g}.* ({n})' for g, n in list(groups.items())[:limit]]
    more = len(groups) - limit
    return ', '.join(parts) + (f', ... {more} more groups' if more > 0 else '')
