"""MMDetDetector against real MMDetection 3.x.

Checkpoints cannot be downloaded on pmu's CI machines, so the model is
RTMDet-tiny built from the config bundled with mmdet, with *random weights*:
the test checks the adapter (config lookup, BGR input, output conversion,
clipping, class names), not detection quality.
"""
import importlib.util

import numpy as np
import pytest
from PIL import Image

from pmu.pseudo_labels import Detections, ImageInput
from pmu.registry import DETECTORS

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec('mmdet') is None,
    reason='mmdet is not installed: pip install -e ".[mmdet]" --find-links ../shared/wheels')


@pytest.fixture(scope='module')
def rtmdet():
    import torch
    torch.manual_seed(0)  # random weights: fix them so the test is deterministic
    return DETECTORS.build(dict(type='MMDetDetector', config='mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py',
                                checkpoint=None, score_thr=0.0, max_per_image=20, batch_size=2))


def test_rtmdet_tiny_random_weights_runs_through_adapter(rtmdet, val_images):
    images = []
    for path in val_images[:3]:
        im = Image.open(path).convert('RGB')
        images.append(ImageInput(path, im.width, im.height, im))
    results = rtmdet(images)
    assert len(results) == 3
    # Random weights still give boxes above score 0 (many degenerate, dropped and
    # counted), so the conversion and the clipping are exercised.
    assert all(len(det) + det.num_degenerate > 0 for det in results)
    assert rtmdet.class_names[:3] == ['person', 'bicycle', 'car'] and len(rtmdet.class_names) == 80
    for img, det in zip(images, results):
        assert isinstance(det, Detections) and det.boxes.dtype == np.float32
        assert len(det) <= 20
        assert (det.boxes[:, [0, 2]] <= img.width).all() and (det.boxes[:, [1, 3]] <= img.height).all()
        assert (det.boxes[:, 2] > det.boxes[:, 0]).all()
        assert (np.diff(det.scores) <= 0).all()  # best first


def test_unknown_bundled_config_is_a_clear_error():
    with pytest.raises(FileNotFoundError, match='bundled configs'):
        DETECTORS.build(dict(type='MMDetDetector', config='mmdet::no/such_config.py'))


def test_mmdet_config_runs_the_whole_preparation(tmp_path, coco_mini):
    import torch
    from mmengine.config import Config

    from pmu.pseudo_labels.prepare import prepare
    from .conftest import CONFIGS, read_records
    torch.manual_seed(0)
    cfg = Config.fromfile(f'{CONFIGS}/prepare_mmdet-rtmdet-tiny_spacy_coco-mini.py')
    cfg.dataset = dict(type='CocoCaptionPairs', ann_file='coco-mini/annotations/captions_val2017.json',
                       data_prefix=dict(img='coco-mini/val2017'), indices=10)
    cfg.detector.score_thr = 0.0
    summary = prepare(cfg, str(tmp_path))
    assert summary['detector'] == 'MMDetDetector' and summary['written'] == 10 and summary['unaccounted'] == 0
    records = read_records(tmp_path / 'pairs.jsonl')
    assert all(r['entities'] for r in records)  # the entity finder was built after mmdet: registry scopes intact
    assert summary['boxes_dropped_degenerate'] + sum(len(r['objects']) for r in records) > 0
