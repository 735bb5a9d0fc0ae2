import os.path as osp

import pytest
from mmengine.config import Config

from tests.conftest import REPO

PRETRAIN = osp.join(REPO, 'configs', 'pretrain')
TEACHER_CFG = osp.join(PRETRAIN, 'teacher_minilm-effnet_coco-mini.py')
STUDENT_CFG = osp.join(PRETRAIN, 'promu_minilm-effnet_coco-mini.py')


@pytest.fixture(scope='session')
def cache_dir(tmp_path_factory, coco_mini):
    """A real pseudo-label cache: 8 train and 4 val COCO-mini images (5 captions each),
    COCO-mini's own boxes (AnnotationDetector), spaCy entities."""
    from pmu.pseudo_labels.prepare import prepare
    root = osp.dirname(coco_mini)
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'prepare', 'prepare_annotations_spacy_coco-mini.py'))
    for ds, n in zip(cfg.dataset, (40, 20)):
        ds.update(data_root=root, indices=n)
    cfg.detector.ann_files = [osp.join(root, f) for f in cfg.detector.ann_files]
    out = str(tmp_path_factory.mktemp('cache'))
    prepare(cfg, out)
    return out


def small_config(path, cache, work_dir, **overrides):
    """A pre-training config on ``cache``, a few iterations, no worker processes (completed:
    the vocabularies, tokenizers and ``max_length`` derived as the tools do)."""
    from pmu.apis.config import complete_config
    cfg = Config.fromfile(path)
    options = {'work_dir': str(work_dir), 'cache_dir': cache, 'train_cfg.max_epochs': 1,
               'default_hooks.logger.interval': 1}
    for split, batch in (('train', 4), ('val', 8), ('test', 8)):
        if cfg.get(f'{split}_dataloader') is None:  # e.g. no validation without ITC features
            continue
        options.update({f'{split}_dataloader.batch_size': batch, f'{split}_dataloader.dataset.indices': 8,
                        f'{split}_dataloader.num_workers': 0, f'{split}_dataloader.persistent_workers': False})
    options.update(overrides)
    cfg.merge_from_dict(options)
    # the configs warm up over the first 10% of the iterations: none at all in a 1-2 iteration run
    cfg.param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
                                convert_to_iter_based=True)]
    return complete_config(cfg)


def train(cfg):
    from mmengine.runner import Runner
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


@pytest.fixture(scope='session')
def teacher_dir(cache_dir, tmp_path_factory):
    """A teacher trained for two iterations on the real cache."""
    work = tmp_path_factory.mktemp('teacher')
    train(small_config(TEACHER_CFG, cache_dir, work))
    return str(work)
