import os.path as osp
import shutil

import pytest


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
