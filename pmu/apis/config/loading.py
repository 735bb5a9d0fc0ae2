"""Loading a config the way the tools run it, and the checks a tool makes before it builds anything."""
import inspect
import os.path as osp
from typing import Iterable, List, Optional, Tuple

from mmengine.config import Config

from pmu.utils.config_path import load_config
from pmu.utils.errors import DataNotFoundError
from .completion import _dataset_dicts, complete_config
from .overrides import _takes, check_cfg_options


def load_complete_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """``Config.fromfile`` + ``cfg_options`` (checked by :func:`check_cfg_options`) +
    :func:`complete_config`: ready for ``Runner.from_cfg``.

    A ``path`` that is no file raises :class:`~pmu.utils.errors.ConfigNotFoundError` naming the
    closest configs of pmu.
    """
    cfg = load_config(path)
    if cfg_options:
        check_cfg_options(cfg, cfg_options)
        cfg.merge_from_dict(cfg_options)
    return complete_config(cfg)


def load_tool_config(args) -> Config:
    """The config a tool runs: file, ``--cfg-options``, completion, launcher and work dir."""
    cfg = load_complete_config(args.config, args.cfg_options)
    cfg.launcher = args.launcher
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0])
    return cfg


def _dataset_class(type_):
    from pmu.registry import DATASETS
    try:
        cls = DATASETS.get(type_) if isinstance(type_, str) else type_
    except Exception:  # a type of custom_imports
        return None
    return cls if inspect.isclass(cls) else None


def _data_files(cfg: Config, splits: Iterable[str]) -> List[Tuple[str, dict]]:
    """``(where, dataset dict)`` of the dataloaders of ``splits``, each under its own name."""
    return list(_dataset_dicts(cfg, splits, shared_once=False))


def check_data_files(cfg: Config, splits: Iterable[str] = ('train', 'val', 'test')) -> None:
    """Before a runner is built: the data root of every dataset of ``splits`` is found and its
    annotation file exists there, else :class:`~pmu.utils.errors.DataNotFoundError` names the file,
    the root and where the root came from (the config's ``data_root``, ``$PMU_DATA_ROOT``, ``./data``,
    ``../shared/data``).

    Only datasets that read ``ann_file`` under ``data_root`` (the Twitter, MNRE and caption datasets)
    are checked; a pre-training cache is checked by its dataset.
    """
    from pmu.utils.paths import data_root_source
    for where, ds in _data_files(cfg, splits):
        cls = _dataset_class(ds.get('type'))
        ann_file = ds.get('ann_file')
        if cls is None or not isinstance(ann_file, str) or _takes(cls, 'data_root') is not True:
            continue
        try:
            root, how = data_root_source(ds.get('data_root'))
        except DataNotFoundError as e:
            raise DataNotFoundError(f'{where}: {e}') from None
        path = ann_file if osp.isabs(ann_file) else osp.join(root, ann_file)
        if osp.isfile(path):
            continue
        if not osp.isdir(root):
            problem = f'the data root {root} ({how}) does not exist'
        else:
            problem = f'{ann_file} is not in the data root {root} ({how})'
        raise DataNotFoundError(
            f'{where}.ann_file: {path} not found: {problem}. The data is looked for in the config\'s data_root, '
            f'else $PMU_DATA_ROOT, else ./data, else ../shared/data (from the repository root); set '
            f'PMU_DATA_ROOT=/path/to/data or run from the folder that has it')


def config_task(cfg: Config) -> Optional[Tuple[str, str]]:
    """``(task, what shows it)`` of the model a completed config builds, as
    :func:`pmu.utils.checkpoint.checkpoint_task` says it of a checkpoint: ``('MNER', 'MultimodalNER, 9 tags:
    O, B-PER, ...')``, ``('MRE', ...)``; None for another model (pre-training)."""
    model = cfg.get('model')
    if not isinstance(model, dict):
        return None
    for task, key in (('MNER', 'tags'), ('MRE', 'relations')):
        names = model.get(key)
        if isinstance(names, (list, tuple)) and names:
            from pmu.utils.checkpoint import first_names
            return task, f'{model.get("type")}, {len(names)} {key}: {first_names(names)}'
    return None


def check_checkpoint_matches(cfg: Config, checkpoint: str) -> None:
    """Before a runner is built: refuse a checkpoint of another task than the config's model
    (:class:`~pmu.utils.checkpoint.CheckpointMismatchError`, naming both); other mismatches are found
    when the weights are loaded."""
    from pmu.utils.checkpoint import check_checkpoint_task, load_checkpoint_file
    task = config_task(cfg)
    if task is not None:
        check_checkpoint_task(load_checkpoint_file(checkpoint), checkpoint, task)
