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


def list_configs() -> List[str]:
    """Every config of pmu (``configs/**/*.py`` of :func:`config_roots`, the ``_base_`` files left out),
    relative to its ``configs/`` folder."""
    found = set()
    for root in config_roots():
        if root.is_dir():
            found.update(p.relative_to(root).as_posix() for p in root.rglob('*.py')
                         if '_base_' not in p.relative_to(root).parts)
    return sorted(found)


def similar_configs(path: str, n: int = 3) -> List[str]:
    """The configs closest to ``path`` (a config file that does not exist), as a user would type them:
    ``configs/<name>`` from the checkout's root, else their path."""
    import difflib
    norm = path.replace(osp.sep, '/')
    rel = norm.split('configs/', 1)[1] if 'configs/' in norm else norm.lstrip('./')
    names = list_configs()
    close = difflib.get_close_matches(rel, names, n=n, cutoff=0.6)
    if not close:  # the folder is wrong too: compare file names
        by_name = {}
        for name in names:
            by_name.setdefault(osp.basename(name), name)
        close = [by_name[b] for b in difflib.get_close_matches(osp.basename(rel), list(by_name), n=n, cutoff=0.6)]
    shown = []
    for name in close:
        real = next(str(root / name) for root in config_roots() if (root / name).is_file())
        local = osp.relpath(real)
        shown.append(local if not local.startswith('..') else real)
    return shown


def check_config_file(path: str) -> str:
    """``path`` when it is a file; else :class:`~pmu.utils.errors.ConfigNotFoundError` naming it and the
    closest configs of pmu (a misspelt name, a wrong folder)."""
    if osp.isfile(path):
        return path
    from pmu.utils.errors import ConfigNotFoundError
    close = similar_configs(path)
    what = 'is a folder, not a config file' if osp.isdir(path) else 'not found'
    raise ConfigNotFoundError(
        f'config {path} {what}'
        + (f"; did you mean {' or '.join(close)}?" if close else
           '; the configs are under configs/ (mner/, mre/, pretrain/, ...), e.g. '
           'configs/mner/textonly_minilm_twitter2017.py'))


PMU_BASE = 'pmu::'


def _absolute_bases(text: str, folder: str) -> str:
    """``text`` of a config whose ``_base_`` strings are absolute paths: ``pmu::NAME`` the config
    ``NAME`` of pmu (:func:`get_config_path`), a relative path joined to ``folder`` (the config's)."""
    import ast
    spans = []
    for node in ast.parse(text).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == '_base_'
                                                for t in node.targets):
            spans += [n for n in ast.walk(node.value) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    lines = text.encode().splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    data = text.encode()
    for n in sorted(spans, key=lambda n: (n.lineno, n.col_offset), reverse=True):
        value = n.value
        if value.startswith(PMU_BASE):
            value = get_config_path(value[len(PMU_BASE):])
        elif '::' not in value and not osp.isabs(value):
            value = osp.join(folder, value)
        else:
            continue
        begin = starts[n.lineno - 1] + n.col_offset  # ast offsets count UTF-8 bytes
        end = starts[n.end_lineno - 1] + n.end_col_offset
        data = data[:begin] + repr(value).encode() + data[end:]
    return data.decode()


def load_config(path: str):
    """``Config.fromfile(path)`` where ``_base_`` may also name a config of pmu as ``'pmu::NAME'``
    (``NAME`` relative to pmu's ``configs/``, e.g. ``'pmu::mner/textonly_minilm_twitter2017.py'``),
    from a config in any folder.

    MMEngine resolves ``package::`` only for the OpenMMLab packages it lists; here the file is read
    with its predefined variables (``{{ fileDirname }}`` ...) substituted by MMEngine as for the
    original, its ``_base_`` paths made absolute, and loaded from a temporary copy. The config
    returned names ``path`` as its file. A path that is no file is a
    :class:`~pmu.utils.errors.ConfigNotFoundError` naming the closest configs (:func:`check_config_file`).
    """
    import tempfile

    from mmengine.config import Config
    check_config_file(path)
    with open(path, encoding='utf-8') as f:
        if PMU_BASE not in f.read():
            return Config.fromfile(path)
    with tempfile.TemporaryDirectory() as tmp:
        copy = osp.join(tmp, osp.basename(path))
        Config._substitute_predefined_vars(path, copy)
        with open(copy, encoding='utf-8') as f:
            text = _absolute_bases(f.read(), osp.dirname(osp.abspath(path)))
        with open(copy, 'w', encoding='utf-8') as f:
            f.write(text)
        cfg = Config.fromfile(copy)
    return Config(cfg._cfg_dict.to_dict(), cfg_text=cfg.text, filename=path, env_variables=cfg.env_variables)
