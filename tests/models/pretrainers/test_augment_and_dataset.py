"""Box remapping through the augmentations, the pair dataset over a real cache."""
import numpy as np
import pytest

from pmu.datasets.transforms.augment import (
    RandAugmentPhotometric,
    RandomFlipWithBoxes,
    RandomResizedCropWithBoxes,
    ResizeWithBoxes,
)


def _painted(width=100, height=80, box=(20, 10, 60, 50)):
    img = np.zeros((height, width, 3), np.uint8)
    x1, y1, x2, y2 = box
    img[y1:y2, x1:x2] = (255, 0, 0)
    return dict(img=img, gt_boxes=np.array([box], np.float32), gt_boxes_valid=np.array([True]))


def test_crop_then_flip_remaps_the_box_as_by_hand(monkeypatch):
    crop = RandomResizedCropWithBoxes(size=(100, 100))
    monkeypatch.setattr(crop, 'get_params', lambda w, h: (10, 0, 50, 40))
    r = RandomFlipWithBoxes(prob=1.0)(crop(_painted()))
    # crop (x=10, y=0, 50x40): box -> [10, 10, 50, 40] (clipped; 75% of it visible),
    # resize 50x40 -> 100x100: x*2, y*2.5 -> [20, 25, 100, 100]; flip in width 100 -> [0, 25, 80, 100]
    np.testing.assert_allclose(r['gt_boxes'], [[0, 25, 80, 100]])
    assert r['gt_boxes_valid'].tolist() == [True] and r['flip'] and r['img_shape'] == (100, 100)
    # the pixels moved with the box: red inside (away from the resampled edges), black outside
    img = r['img'].astype(int)
    assert (img[30:95, 5:75, 0] > 200).all() and (img[30:95, 5:75, 1:] < 40).all()
    assert (img[:20, :, 0] < 40).all() and (img[:, 85:, 0] < 40).all()


def test_a_box_mostly_cut_off_by_the_crop_is_invalid(monkeypatch):
    crop = RandomResizedCropWithBoxes(size=(100, 100), min_visible=0.25)
    monkeypatch.setattr(crop, 'get_params', lambda w, h: (52, 0, 48, 80))  # keeps 8 of the box's 40 columns
    r = crop(_painted())
    assert r['gt_boxes_valid'].tolist() == [False]
    monkeypatch.setattr(crop, 'get_params', lambda w, h: (70, 0, 30, 80))  # no overlap at all
    assert crop(_painted())['gt_boxes_valid'].tolist() == [False]


def test_the_crop_records_the_share_of_the_image_it_keeps(monkeypatch):
    """CIR's label describes the whole image: the student skips crops that keep too little of it."""
    crop = RandomResizedCropWithBoxes(size=(100, 100))
    monkeypatch.setattr(crop, 'get_params', lambda w, h: (10, 0, 50, 40))
    assert crop(_painted())['crop_coverage'] == pytest.approx(50 * 40 / (100 * 80))
    monkeypatch.setattr(crop, 'get_params', lambda w, h: (0, 0, 100, 80))
    assert crop(_painted())['crop_coverage'] == 1.0
    assert ResizeWithBoxes(size=(50, 40))(_painted())['crop_coverage'] == 1.0  # evaluation: the whole image
    for _ in range(20):  # random crops: within the configured area scale
        assert 0.2 * 0.99 <= RandomResizedCropWithBoxes(scale=(0.2, 1.0))(_painted())['crop_coverage'] <= 1.0


def test_random_crop_params_stay_inside_and_photometric_ops_keep_boxes():
    crop = RandomResizedCropWithBoxes(size=(64, 64), scale=(0.2, 1.0))
    for _ in range(50):
        x, y, w, h = crop.get_params(100, 80)
        assert 0 <= x and 0 <= y and x + w <= 100 and y + h <= 80 and w * h >= 0.2 * 8000 * 0.99
    r = _painted()
    out = RandAugmentPhotometric(num_ops=2, magnitude=7)(dict(r, gt_boxes=r['gt_boxes'].copy()))
    np.testing.assert_array_equal(out['gt_boxes'], r['gt_boxes'])
    assert out['img'].shape == r['img'].shape and out['img'].dtype == np.uint8
    resized = ResizeWithBoxes(size=(50, 40))(_painted())
    np.testing.assert_allclose(resized['gt_boxes'], [[10, 5, 30, 25]])


def test_dataset_over_a_real_cache(cache_dir):
    from pmu.datasets import PretrainPairsDataset
    train = PretrainPairsDataset(cache_dir, image_filter='/train2017/', num_objects=2)
    val = PretrainPairsDataset(cache_dir, image_filter='/val2017/')
    assert len(train) == 40 and len(val) == 20
    assert len(train.unique_images()) == 8 and len(val.unique_images()) == 4
    d = train.get_data_info(0)
    assert d['match'] and d['words'] == d['caption'].split() and d['gt_boxes'].shape == (2, 4)
    assert d['gt_boxes_valid'][0] and d['gt_labels'][0]  # COCO-mini's own boxes: every image has one
    with pytest.raises(ValueError, match='no pairs left'):
        PretrainPairsDataset(cache_dir, image_filter='/nowhere/')


def test_pipeline_on_a_real_image_keeps_the_box_on_its_object(cache_dir):
    """The train pipeline of the lite config on a real COCO-mini pair: boxes land inside the 224 image."""
    from mmengine.config import Config
    from mmengine.dataset import Compose

    from pmu.apis.config import complete_config
    from pmu.datasets import PretrainPairsDataset
    from tests.models.pretrainers.conftest import STUDENT_CFG
    cfg = complete_config(Config.fromfile(STUDENT_CFG))  # the pipeline gets the model's tokenizer
    ds = PretrainPairsDataset(cache_dir, image_filter='/train2017/', pipeline=cfg.train_dataloader.dataset.pipeline)
    for i in range(5):
        out = ds[i]
        s = out['data_samples']
        assert out['inputs']['img'].shape == (3, 224, 224)
        assert s.img_shape == (224, 224) and len(out['inputs']['input_ids']) <= 32
        assert 0.2 * 0.99 <= s.crop_coverage <= 1.0  # packed for CIR's coverage check
        b = np.asarray(s.gt_boxes)
        if s.gt_boxes_valid[0]:
            assert (b[0] >= 0).all() and (b[0, [0, 2]] <= 224).all() and b[0, 2] > b[0, 0]
    assert isinstance(ds.pipeline, Compose)
