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


def load_run_config(config: str, work_dir: Optional[str] = None, cfg_options: Optional[dict] = None,
                    launcher: str = 'none') -> Config:
    """The config a tool runs: file, ``cfg_options``, completion, launcher and work dir (``work_dir``,
    else the config's, else ``work_dirs/<config name>``)."""
    cfg = load_complete_config(config, cfg_options)
    cfg.launcher = launcher
    cfg.work_dir = work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(config))[0])
    return cfg


def load_tool_config(args) -> Config:
    """:func:`load_run_config` from a tool's parsed arguments (``config``, ``work_dir``, ``cfg_options``,
    ``launcher``)."""
    return load_run_config(args.config, args.work_dir, args.cfg_options, args.launcher)


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


def check_checkpoint_matches(cfg: Config, checkpoint: str) -> Optional[dict]:
    """Before a runner is built: refuse a checkpoint of another task than the config's model
    (:class:`~pmu.utils.checkpoint.CheckpointMismatchError`, naming both); other mismatches are found
    when the weights are loaded.

    Returns the checkpoint it read, for :func:`~pmu.utils.checkpoint.load_mapped_checkpoint`
    (``loaded=``) to use rather than read the file again; None when the config's model is of no task
    (nothing was read)."""
    from pmu.utils.checkpoint import check_checkpoint_task, load_checkpoint_file
    task = config_task(cfg)
    if task is None:
        return None
    loaded = load_checkpoint_file(checkpoint)
    check_checkpoint_task(loaded, checkpoint, task)
    return loaded
