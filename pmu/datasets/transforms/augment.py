"""Pre-training augmentations (PIL/numpy) that keep object boxes in step with the pixels.

Every op that moves pixels (crop, resize, flip) maps ``results['gt_boxes']``
(``[K, 4]`` float32, ``x1, y1, x2, y2`` in pixels of the current image) to the new
image; a box that ends up mostly outside the image is marked invalid in
``results['gt_boxes_valid']`` so that no label is attached to pixels it no longer
covers (the official PROMU code crops without remapping its boxes). Photometric
ops leave boxes alone.
"""
import math
import random
from typing import Sequence, Tuple

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

from pmu.registry import TRANSFORMS


def _boxes(results: dict) -> np.ndarray:
    boxes = results.get('gt_boxes')
    if boxes is None:
        boxes = np.zeros((0, 4), np.float32)
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    results.setdefault('gt_boxes_valid', np.ones(len(boxes), bool))
    return boxes


def crop_resize_boxes(boxes: np.ndarray, crop: Tuple[float, float, float, float], out_size: Tuple[int, int],
                      min_visible: float = 0.25) -> Tuple[np.ndarray, np.ndarray]:
    """Map boxes through "crop ``(x, y, w, h)`` then resize to ``out_size`` (w, h)".

    Returns the new boxes (clipped to the output) and which of them keep at least
    ``min_visible`` of their area inside the crop.
    """
    x, y, w, h = crop
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    shifted = boxes - np.array([x, y, x, y], np.float32)
    clipped = np.stack([shifted[:, 0].clip(0, w), shifted[:, 1].clip(0, h),
                        shifted[:, 2].clip(0, w), shifted[:, 3].clip(0, h)], 1)
    visible = (clipped[:, 2] - clipped[:, 0]) * (clipped[:, 3] - clipped[:, 1])
    keep = visible >= min_visible * np.maximum(area, 1e-6)
    scale = np.array([out_size[0] / w, out_size[1] / h] * 2, np.float32)
    return (clipped * scale).astype(np.float32), keep & (visible > 0)


def flip_boxes(boxes: np.ndarray, width: int) -> np.ndarray:
    out = boxes.copy()
    out[:, 0] = width - boxes[:, 2]
    out[:, 2] = width - boxes[:, 0]
    return out


def _apply_geometry(results: dict, crop, size, min_visible):
    img = Image.fromarray(results['img'])
    x, y, w, h = crop
    img = img.resize(size, Image.BICUBIC, box=(x, y, x + w, y + h))
    boxes, keep = crop_resize_boxes(_boxes(results), crop, size, min_visible)
    results['img'] = np.asarray(img, dtype=np.uint8)
    results['gt_boxes'] = boxes
    results['gt_boxes_valid'] = results['gt_boxes_valid'] & keep
    results['img_shape'] = (size[1], size[0])


@TRANSFORMS.register_module()
class ResizeWithBoxes:
    """Resize the whole image to ``size`` (w, h), scaling the boxes (evaluation)."""

    def __init__(self, size=(224, 224)):
        self.size = tuple(size)

    def __call__(self, results: dict) -> dict:
        if results.get('img') is not None:
            h, w = results['img'].shape[:2]
            _apply_geometry(results, (0, 0, w, h), self.size, min_visible=0.0)
            results['crop_coverage'] = 1.0
        return results


@TRANSFORMS.register_module()
class RandomResizedCropWithBoxes:
    """torchvision's RandomResizedCrop (area ``scale``, aspect ``ratio``), boxes remapped.

    Records ``crop_coverage``, the share of the original image's area the crop
    keeps: with offline labels the teacher labelled the whole image for CIR, and
    a student that sees a small part of it skips that label (``cir_min_coverage``
    of :class:`~pmu.models.PromuPretrainer`); with online labels
    (``label_source='online'``) the teacher labels this very crop and nothing is
    skipped.

    Args:
        size: output ``(w, h)``.
        min_visible: a box keeping less of its area inside the crop is marked invalid.
    """

    def __init__(self, size=(224, 224), scale=(0.2, 1.0), ratio=(3 / 4, 4 / 3), min_visible: float = 0.25):
        self.size = tuple(size)
        self.scale = scale
        self.ratio = ratio
        self.min_visible = min_visible

    def get_params(self, width: int, height: int):
        area = width * height
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(10):
            target = area * random.uniform(*self.scale)
            aspect = math.exp(random.uniform(*log_ratio))
            w = int(round(math.sqrt(target * aspect)))
            h = int(round(math.sqrt(target / aspect)))
            if 0 < w <= width and 0 < h <= height:
                return random.randint(0, width - w), random.randint(0, height - h), w, h
        # fall back to a centre crop of the admissible aspect ratio
        in_ratio = width / height
        if in_ratio < self.ratio[0]:
            w, h = width, int(round(width / self.ratio[0]))
        elif in_ratio > self.ratio[1]:
            w, h = int(round(height * self.ratio[1])), height
        else:
            w, h = width, height
        return (width - w) // 2, (height - h) // 2, w, h

    def __call__(self, results: dict) -> dict:
        if results.get('img') is not None:
            h, w = results['img'].shape[:2]
            crop = self.get_params(w, h)
            results['crop'] = crop
            results['crop_coverage'] = crop[2] * crop[3] / float(w * h)
            _apply_geometry(results, crop, self.size, self.min_visible)
        return results

    def __repr__(self):
        return f'{type(self).__name__}(size={self.size}, scale={self.scale})'


@TRANSFORMS.register_module()
class RandomFlipWithBoxes:
    """Horizontal flip with probability ``prob``; boxes mirrored."""

    def __init__(self, prob: float = 0.5):
        self.prob = prob

    def __call__(self, results: dict) -> dict:
        flip = results.get('img') is not None and random.random() < self.prob
        results['flip'] = flip
        if flip:
            results['img'] = np.ascontiguousarray(results['img'][:, ::-1])
            results['gt_boxes'] = flip_boxes(_boxes(results), results['img'].shape[1])
        return results


def _posterize(img, m):
    return ImageOps.posterize(img, 8 - int(4 * m))


# name -> op(PIL image, magnitude in [0, 1]); photometric only, so boxes stay valid.
_PHOTOMETRIC_OPS = {
    'AutoContrast': lambda img, m: ImageOps.autocontrast(img),
    'Equalize': lambda img, m: ImageOps.equalize(img),
    'Brightness': lambda img, m: ImageEnhance.Brightness(img).enhance(1 + random.choice((-1, 1)) * 0.9 * m),
    'Color': lambda img, m: ImageEnhance.Color(img).enhance(1 + random.choice((-1, 1)) * 0.9 * m),
    'Contrast': lambda img, m: ImageEnhance.Contrast(img).enhance(1 + random.choice((-1, 1)) * 0.9 * m),
    'Sharpness': lambda img, m: ImageEnhance.Sharpness(img).enhance(1 + random.choice((-1, 1)) * 0.9 * m),
    'Posterize': _posterize,
    'Solarize': lambda img, m: ImageOps.solarize(img, int(256 - 256 * m)),
}


@TRANSFORMS.register_module()
class RandAugmentPhotometric:
    """RandAugment restricted to photometric ops: ``num_ops`` random ops at ``magnitude`` (0-10).

    The geometric ops of RandAugment (rotate, shear, translate) are left out:
    boxes could not follow a rotation exactly.
    """

    def __init__(self, num_ops: int = 2, magnitude: int = 7, ops: Sequence[str] = tuple(_PHOTOMETRIC_OPS)):
        unknown = set(ops) - set(_PHOTOMETRIC_OPS)
        if unknown:
            raise ValueError(f'unknown ops {sorted(unknown)}; choose from {list(_PHOTOMETRIC_OPS)}')
        self.num_ops = num_ops
        self.magnitude = magnitude
        self.ops = tuple(ops)

    def __call__(self, results: dict) -> dict:
        if results.get('img') is not None:
            img = Image.fromarray(results['img'])
            for name in random.sample(self.ops, min(self.num_ops, len(self.ops))):
                img = _PHOTOMETRIC_OPS[name](img, self.magnitude / 10)
            results['img'] = np.asarray(img, dtype=np.uint8)
        return results

    def __repr__(self):
        return f'{type(self).__name__}(num_ops={self.num_ops}, magnitude={self.magnitude})'
