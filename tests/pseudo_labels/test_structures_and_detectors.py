import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

from pmu.pseudo_labels import Detections, ImageInput
from pmu.registry import DETECTORS
from .conftest import ANNOTATION_CONFIG, ONNX_CONFIG


def test_clip_and_filter_counts_degenerate_boxes():
    det = Detections(
        boxes=[[-10, -5, 50, 40],     # clipped to the image, kept
               [90, 10, 130, 20],     # clipped to x2=100, kept
               [120, 10, 150, 20],    # entirely right of the image: zero width after clipping
               [30, 30, 20, 40],      # x2 < x1
               [10, 10, 10.5, 30]],   # narrower than min_size
        scores=[0.9, 0.8, 0.7, 0.6, 0.5], labels=[0, 1, 0, 1, 0], class_names=['a', 'b'])
    out = det.clip_and_filter(width=100, height=60, min_size=1.0)
    assert out.num_degenerate == 3
    np.testing.assert_allclose(out.boxes, [[0, 0, 50, 40], [90, 10, 100, 20]])
    assert out.boxes.dtype == np.float32 and out.labels.dtype == np.int64
    top = out.top(score_thr=0.85)
    assert len(top) == 1 and top.num_degenerate == 3
    assert top.to_records() == [dict(box=[0.0, 0.0, 50.0, 40.0], label='a', score=0.9)]


def test_detections_reject_inconsistent_fields():
    with pytest.raises(ValueError, match='label indices'):
        Detections([[0, 0, 1, 1]], [1.0], [3], ['a'])
    with pytest.raises(ValueError, match='2 scores'):
        Detections([[0, 0, 1, 1]], [1.0, 0.5], [0], ['a'])


def _input(path):
    im = Image.open(path).convert('RGB')
    return ImageInput(path, im.width, im.height, im)


def test_onnx_detector_finds_coco_objects(val_images, coco_mini):
    # The ONNX and the annotation configs differ only in the `detector` line;
    # both build from the same registry and return the same structure.
    onnx = DETECTORS.build(Config.fromfile(ONNX_CONFIG).detector)
    truth = DETECTORS.build(Config.fromfile(ANNOTATION_CONFIG).detector)
    images = [_input(p) for p in val_images[:6]]
    found, expected = onnx(images), truth(images)
    hits = 0
    for img, det, gt in zip(images, found, expected):
        assert isinstance(det, Detections) and det.class_names[0] == 'person'
        assert (det.boxes[:, [0, 2]] <= img.width).all() and (det.boxes[:, [1, 3]] <= img.height).all()
        assert (det.boxes >= 0).all() and (det.scores >= 0.3).all() and len(det) <= 10
        gt_names = {gt.class_names[i] for i in gt.labels}
        hits += any(det.class_names[i] in gt_names for i in det.labels)
    # a real detector on real photos: most images share a class with the annotations
    assert hits >= 4


def test_annotation_detector_reads_voc_xml(tmp_path, val_images):
    name = osp.basename(val_images[0])
    (tmp_path / 'a.xml').write_text(
        f'<annotation><filename>{name}</filename><object><name>dog</name><bndbox><xmin>10</xmin><ymin>20</ymin>'
        '<xmax>5000</xmax><ymax>60</ymax></bndbox></object></annotation>')
    det = DETECTORS.build(dict(type='AnnotationDetector', voc_dirs=str(tmp_path)))
    (out, ) = det([_input(val_images[0])])
    width = Image.open(val_images[0]).width
    assert out.to_records() == [dict(box=[10.0, 20.0, float(width), 60.0], label='dog', score=1.0)]
    (none, ) = det([_input(val_images[1])])
    assert len(none) == 0


def test_onnx_detector_spec_errors(onnx_model):
    with pytest.raises(ValueError, match='name no box'):
        DETECTORS.build(dict(type='OnnxDetector', model_path=onnx_model,
                             columns=('a', 'b', 'c', 'd', 'score', 'class')))
    with pytest.raises(FileNotFoundError, match='PMU_MODEL_ROOT'):
        DETECTORS.build(dict(type='OnnxDetector', model_path='no-such-model.onnx'))
