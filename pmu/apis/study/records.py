"""What a run left: its result and state files, the metrics line of tools/test.py, and what its
training read (posts, images, captions, subset) from its logs, with the config it read them with."""
import json
import logging
import os
import os.path as osp
import re
import threading
from dataclasses import dataclass
from glob import escape, glob
from typing import Dict, List, Optional

from mmengine.config import Config

from .plan import LOG_FILE, RESULT_FILE, TRAIN_DONE_FILE, Run, same_value

# --------------------------------------------------------------------------- results and state

def parse_metrics(text: str) -> Optional[dict]:
    """The last JSON object line of tools/test.py's output (anything after it on
    the line, e.g. an interleaved warning, is ignored)."""
    decoder = json.JSONDecoder()
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith('{'):
            try:
                value, _ = decoder.raw_decode(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                return value
    return None


def split_ann_file(config: str, options: dict) -> Optional[str]:
    """The annotation file ``test_dataloader`` reads with ``options``, resolved
    against its data root the way pmu's datasets do; None when not a plain file path."""
    from pmu.utils import find_data_root
    cfg = Config.fromfile(config, import_custom_modules=False)
    cfg.merge_from_dict(options)
    dataset = (cfg.get('test_dataloader') or {}).get('dataset') or {}
    ann_file = dataset.get('ann_file')
    if not isinstance(ann_file, str):
        return None
    if osp.isabs(ann_file):
        return ann_file
    try:
        return osp.join(find_data_root(dataset.get('data_root')), ann_file)
    except FileNotFoundError:
        return ann_file


def read_json(path: str) -> Optional[dict]:
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except (FileNotFoundError, ValueError):
        return None


def write_json(path: str, data) -> None:
    """Write-then-rename, so a killed study never leaves half a file."""
    tmp = f'{path}.tmp{os.getpid()}.{threading.get_ident()}'
    with open(tmp, 'w', encoding='utf-8') as f:
        json.dump(data, f, indent=2)
        f.write('\n')
    os.replace(tmp, path)


def write_text(path: str, text: str) -> None:
    tmp = f'{path}.tmp{os.getpid()}.{threading.get_ident()}'
    with open(tmp, 'w', encoding='utf-8') as f:
        f.write(text)
    os.replace(tmp, path)


def read_result(run: Run) -> Optional[dict]:
    return read_json(osp.join(run.work_dir, RESULT_FILE))


def run_state(run: Run) -> str:
    """What the next invocation does: 'skip' (finished), 'test' (trained, not
    evaluated), 'resume' (killed mid-training), 'train' (nothing yet).
    A failed run is tried again."""
    if not run.is_step:
        result = read_result(run)
        if result is not None and result.get('status') == 'ok':
            return 'skip'
    if read_json(osp.join(run.work_dir, TRAIN_DONE_FILE)) is not None:
        return 'skip' if run.is_step else 'test'
    return 'resume' if osp.isfile(osp.join(run.work_dir, 'last_checkpoint')) else 'train'


def format_seconds(seconds: Optional[float]) -> str:
    if seconds is None:
        return '?'
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f'{h}h{m:02d}m' if h else f'{m}m{s:02d}s' if m else f'{s}s'


def log_tail(path: str, chars: int = 3000) -> str:
    try:
        with open(path, encoding='utf-8', errors='replace') as f:
            return f.read()[-chars:]
    except FileNotFoundError:
        return ''


# --------------------------------------------------------------------------- what was measured

MEASURED_SPLITS = ('train', 'val')
# the lines pmu's datasets (pmu.datasets.image_check, .captions) and DataSubsetHook log
_IMAGES_LINE = re.compile(r'(\S+): (\d+)/(\d+) samples have an image; (\d+) missing, (\d+) unreadable')
_CAPTIONS_LINE = re.compile(r'(\S+): (\d+)/(\d+) samples have a caption \(([^,]+),')
_SUBSET_LINE = re.compile(r'\b(training|validating) on (\d+) of (\d+) samples \(dataset\.indices\)')
_SUBSET_SPLIT = {'training': 'train', 'validating': 'val'}
# image-side parts of a model config: a row differing from the reference only there ablates the images
IMAGE_SIDE_PREFIXES = ('model.visual_encoder', 'model.fusion')
IMAGE_STEPS = ('LoadImage', 'ResizeWithBoxes', 'RandomResizedCropWithBoxes', 'RandomFlipWithBoxes',
               'RandAugmentPhotometric')
_PLANS: Dict[tuple, Optional['DataPlan']] = {}
_IMAGES_NOW: Dict[str, Optional[Dict[str, tuple]]] = {}


@dataclass
class DataPlan:
    """What a run's config (with its options) says about its data, and the config flattened."""
    cfg: Config
    ann_files: Dict[str, Optional[str]]   # split -> the dataset's ann_file
    captions: Dict[str, bool]             # split -> the dataset has a caption source
    subset: Dict[str, bool]               # split -> dataset.indices is set
    flat: Dict[str, object]               # 'model.fusion.type' -> value, pipelines split (see flatten_config)


def _dataset_of(cfg, split: str) -> dict:
    dataset = (cfg.get(f'{split}_dataloader') or {}).get('dataset') or {}
    while isinstance(dataset.get('dataset'), dict):  # a wrapper (RepeatDataset, ...)
        dataset = dataset['dataset']
    return dataset


def data_plan(config: str, options: dict) -> Optional[DataPlan]:
    """The :class:`DataPlan` of ``config`` with ``options`` (placeholders left as written);
    None when the config no longer loads. Read once per process."""
    key = (config, json.dumps(options, sort_keys=True, default=repr))
    if key not in _PLANS:
        try:
            cfg = Config.fromfile(config, import_custom_modules=False)
            cfg.merge_from_dict(options)
        except Exception:  # noqa: BLE001 -- a config gone or broken since: its data is 'unknown'
            _PLANS[key] = None
        else:
            datasets = {s: _dataset_of(cfg, s) for s in MEASURED_SPLITS}
            _PLANS[key] = DataPlan(
                cfg=cfg,
                ann_files={s: d.get('ann_file') if isinstance(d.get('ann_file'), str) else None
                           for s, d in datasets.items()},
                captions={s: d.get('captions') is not None for s, d in datasets.items()},
                subset={s: d.get('indices') is not None for s, d in datasets.items()},
                flat=flatten_config(cfg.to_dict()))
    return _PLANS[key]


def flatten_config(value, prefix: str = '') -> Dict[str, object]:
    """``{'model.fusion.type': 'HVPNetFusion', ...}``; list items by index, except in a
    ``pipeline``, where image steps (``IMAGE_STEPS``) go under ``pipeline.image.<type>`` and the
    other steps are numbered among themselves, so that adding ``LoadImage`` shifts nothing."""
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, (list, tuple)) and prefix.endswith('pipeline.'):
        steps = [v for v in value if not (isinstance(v, dict) and v.get('type') in IMAGE_STEPS)]
        items = list(enumerate(steps)) + [(f'image.{v["type"]}', v) for v in value
                                          if isinstance(v, dict) and v.get('type') in IMAGE_STEPS]
    elif isinstance(value, (list, tuple)) and value and any(isinstance(v, (dict, list, tuple)) for v in value):
        items = list(enumerate(value))
    else:
        return {prefix[:-1]: value}
    flat = {}
    for key, item in items:
        flat.update(flatten_config(item, f'{prefix}{key}.'))
    return flat


def is_image_side(key: str) -> bool:
    """Whether a flattened config key is about images: the visual encoder, the fusion, an image step
    of a pipeline, or a key named ``image_*`` / ``img_*``."""
    parts = key.split('.')
    return (key.startswith(IMAGE_SIDE_PREFIXES) or '.pipeline.image.' in f'.{key}.'
            or any(p.startswith(('image_', 'img_')) for p in parts))


def config_difference(plan: DataPlan, ref: DataPlan) -> List[str]:
    """The flattened keys whose values differ between two configs (absent counts as a value)."""
    missing = object()
    return sorted(k for k in set(plan.flat) | set(ref.flat)
                  if not same_value(plan.flat.get(k, missing), ref.flat.get(k, missing)))


def _logged_file_is(logged: str, ann_file: Optional[str]) -> bool:
    """Whether a dataset's logged file name (relative to the directory the run ran in) is ``ann_file``
    (relative to a data root, or absolute)."""
    if not ann_file:
        return False
    logged = osp.normpath(osp.abspath(logged))
    if osp.isabs(ann_file):
        return logged == osp.normpath(ann_file)
    return logged.endswith(osp.sep + osp.normpath(ann_file))


def empty_record(plan: Optional[DataPlan], split: str) -> dict:
    """None: not known; captions/used are left out when the config has no caption source / subset."""
    record = dict(file=None, posts=None, images=None)
    if plan is not None and plan.captions[split]:
        record.update(captions=None, caption_source=None)
    if plan is not None and plan.subset[split]:
        record['used'] = None
    return record


def parse_data_lines(lines, plan: DataPlan, data: Optional[dict] = None) -> dict:
    """Fill ``data`` (split -> record) from log lines; a later line wins (a resumed training logs again)."""
    data = data if data is not None else {s: empty_record(plan, s) for s in MEASURED_SPLITS}
    for line in lines:
        for pattern, fields in ((_IMAGES_LINE, ('images', 'posts')), (_CAPTIONS_LINE, ('captions', 'posts'))):
            match = pattern.search(line)
            if match is None:
                continue
            for split in MEASURED_SPLITS:
                if _logged_file_is(match.group(1), plan.ann_files[split]):
                    record = data[split]
                    record['file'] = match.group(1)
                    record.update({fields[0]: int(match.group(2)), fields[1]: int(match.group(3))})
                    if pattern is _CAPTIONS_LINE:
                        record['caption_source'] = match.group(4)
        match = _SUBSET_LINE.search(line)
        if match is not None:
            data[_SUBSET_SPLIT[match.group(1)]]['used'] = int(match.group(2))
    return data


def _log_lines(path: str):
    try:
        with open(path, encoding='utf-8', errors='replace') as f:
            yield from (line for line in f if 'samples' in line)
    except OSError:
        return


def measured_data(run: Run, log_path: Optional[str] = None) -> Optional[dict]:
    """What the run's training read, from its logs: per split the posts, how many had a readable
    image, had a caption (a config with a caption source) and were used (``dataset.indices``).
    Reads ``run.log``, then MMEngine's ``<timestamp>/<timestamp>.log`` files for what it lacks;
    a count no log holds stays None ('unknown'). None when the config no longer loads."""
    plan = data_plan(run.config, run.options)
    if plan is None:
        return None
    data = parse_data_lines(_log_lines(log_path or osp.join(run.work_dir, LOG_FILE)), plan)
    if any(v is None for record in data.values() for v in record.values()):
        for path in sorted(glob(osp.join(escape(run.work_dir), '*', '*.log'))):
            data = parse_data_lines(_log_lines(path), plan, data)
    return data


class _ErrorsOnly(logging.Filter):
    """Holds back a dataset's own log lines while it is counted again."""

    def filter(self, record):
        return record.levelno >= logging.ERROR


def images_now(plan: DataPlan) -> Optional[Dict[str, tuple]]:
    """split -> (posts with a readable image, posts) in the data as it is now, counted by the
    config's dataset class (its own log lines held back); None when it cannot be built."""
    from mmengine.logging import MMLogger

    from pmu.registry import DATASETS
    from pmu.utils import register_all_modules

    key = json.dumps([_dataset_of(plan.cfg, s) for s in MEASURED_SPLITS], sort_keys=True, default=repr)
    if key in _IMAGES_NOW:
        return _IMAGES_NOW[key]
    register_all_modules()
    logger = MMLogger.get_current_instance()
    quiet = _ErrorsOnly()
    logger.addFilter(quiet)
    counts = {}
    try:
        for split in MEASURED_SPLITS:
            dataset = dict(_dataset_of(plan.cfg, split), pipeline=[], lazy_init=True)
            dataset.pop('indices', None)
            data_list = DATASETS.build(dataset).load_data_list()
            counts[split] = (sum(bool(d.get('has_image')) for d in data_list), len(data_list))
    except Exception:  # noqa: BLE001 -- no data here (another machine): no count, no flag
        counts = None
    finally:
        logger.removeFilter(quiet)
    _IMAGES_NOW[key] = counts
    return counts
