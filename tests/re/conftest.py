import logging
import os.path as osp
import shutil

import pytest
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope



@pytest.fixture(scope='session', autouse=True)
def pmu_default_scope():
    """Build pipelines from MMEngine's root registries with pmu's scope, as the runner does."""
    if not DefaultScope.check_instance_created('pmu-tests-re'):
        DefaultScope.get_instance('pmu-tests-re', scope_name='pmu')


@pytest.fixture(scope='session')
def mnre_root():
    """The real data root with ``mnre/`` (../shared/data from the repo root, or $PMU_DATA_ROOT)."""
    from pmu.utils import find_data_root
    try:
        root = find_data_root()
    except FileNotFoundError as e:
        pytest.skip(f'real data not available: {e}')
    if not osp.isfile(osp.join(root, 'mnre', 'mnre_train.txt')):
        pytest.skip(f'{root} has no mnre/ (run pytest from the repository root)')
    return osp.abspath(root)


@pytest.fixture()
def tmp_mnre(tmp_path, mnre_root):
    """A data root with the real rel2id.json, for writing (bad) MNRE files into."""
    (tmp_path / 'mnre').mkdir()
    shutil.copy(osp.join(mnre_root, 'mnre', 'rel2id.json'), tmp_path / 'mnre' / 'rel2id.json')
    return tmp_path


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture()
def mmlog():
    """Messages sent to MMEngine's current logger during the test."""
    logger = MMLogger.get_current_instance()
    handler = _Records()
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)
