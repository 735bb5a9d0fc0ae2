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


def register_safe_globals() -> None:
    """Make MMEngine's checkpoints loadable with ``torch.load(weights_only=True)``."""
    from mmengine.logging.history_buffer import HistoryBuffer
    HistoryBuffer.__getstate__ = _history_buffer_state
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is not None:  # torch >= 2.4
        add(mmengine_safe_globals())


def load_checkpoint_file(path: str, map_location='cpu') -> dict:
    """``torch.load`` with safe loading on, for pmu/MMEngine checkpoints."""
    register_safe_globals()
    return torch.load(path, map_location=map_location, weights_only=True)


def load_mapped_checkpoint(model: torch.nn.Module,
                           checkpoint: str,
                           key_map: Optional[Dict[str, str]] = None,
                           strict: bool = False,
                           logger: Optional[MMLogger] = None):
    """Load ``checkpoint`` into ``model``, renaming keys by prefix.

    ``key_map`` maps a source prefix to a target prefix, e.g.
    ``{'text_encoder.': 'text_encoder.', 'fusion.': 'fusion.'}``; keys that
    match no source prefix are left out (a pre-training checkpoint also holds
    its losses' heads and projections). Regular expressions are allowed as
    sources (``re:^student\\.``). Missing and unexpected keys are reported.
    """
    logger = logger or MMLogger.get_current_instance()
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
    shape_mismatch = [k for k, v in state.items() if k in own and own[k].shape != v.shape]
    for k in shape_mismatch:
        state.pop(k)
    result = model.load_state_dict(state, strict=False)
    logger.info(
        f'Loaded {len(state) - len(result.unexpected_keys)} tensors from {checkpoint}; '
        f'missing in checkpoint: {len(result.missing_keys)}, unexpected: '
        f'{len(result.unexpected_keys)}, shape mismatch (skipped): {len(shape_mismatch)}')
    for name, keys in (('missing', result.missing_keys), ('unexpected', result.unexpected_keys),
                       ('shape mismatch', shape_mismatch)):
        if keys:
            logger.info(f'  {name}: {_summarise(keys)}')
    if strict and (result.missing_keys or result.unexpected_keys or shape_mismatch):
        raise RuntimeError(f'{checkpoint} does not match the model (strict=True); see log')
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
