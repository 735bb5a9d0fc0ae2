"""Find a config of pmu's ``configs/`` from a checkout or an installed package."""
import os.path as osp
from pathlib import Path
from typing import List

_PACKAGE_DIR = Path(__file__).resolve().parents[1]  # .../pmu


def config_roots() -> List[Path]:
    """The folders ``get_config_path`` searches, in order.

    The checkout's ``configs/`` when pmu is imported from a checkout (an
    editable install or the repository on ``sys.path``), then
    ``pmu/.mim/configs``, which ``setup.py`` fills in an installed package
    (the layout OpenMMLab's ``mim`` reads).
    """
    roots = []
    checkout = _PACKAGE_DIR.parent
    if (checkout / 'setup.py').is_file() and (checkout / 'configs').is_dir():
        roots.append(checkout / 'configs')
    roots.append(_PACKAGE_DIR / '.mim' / 'configs')
    return roots


def get_config_path(name: str) -> str:
    """The path of config ``name``, relative to ``configs/``.

    Args:
        name: e.g. ``'mner/promu_minilm-effnet_twitter2017.py'``; a leading
            ``configs/`` is accepted too.

    Raises:
        FileNotFoundError: no such config; the message lists where it looked.

    Example:
        >>> from mmengine.config import Config
        >>> cfg = Config.fromfile(
        ...     get_config_path('mner/promu_minilm-effnet_twitter2017.py'))
    """
    rel = name
    for prefix in ('configs/', 'configs' + osp.sep):
        if rel.startswith(prefix):
            rel = rel[len(prefix):]
            break
    roots = config_roots()
    for root in roots:
        path = root / rel
        if path.is_file():
            return str(path)
    looked = '\n'.join(
        f'  {root / rel}' + ('' if root.is_dir() else '  (folder missing)')
        for root in roots)
    raise FileNotFoundError(
        f"No config '{name}'. Looked for:\n{looked}\n"
        'Names are relative to configs/, e.g. '
        "'mner/promu_minilm-effnet_twitter2017.py'. An installed pmu carries "
        'its configs in pmu/.mim/configs: reinstall it with pip (from a '
        'checkout: pip install -e .) if that folder is missing.')
