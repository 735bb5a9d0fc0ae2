from typing import Optional

import numpy as np
from mmengine.logging import MMLogger
from PIL import Image

from pmu.registry import TRANSFORMS
from pmu.utils.image import DEFAULT_MAX_PIXELS, load_image


@TRANSFORMS.register_module()
class LoadImage:
    """Read ``img_path`` into ``results['img']`` (RGB uint8, HWC) and resize it.

    A sample without a usable image gets ``img = None`` and
    ``has_image = False``: the model then masks the visual side out of fusion
    instead of looking at a made-up black picture. Decoding is
    ``pmu.utils.image.load_image``, the same as the dataset's image check.

    Args:
        size: ``(width, height)`` to resize to, or ``None`` to keep the size.
        max_pixels: images larger than this are refused as unusable (guards
            against decompression bombs).
        exif_transpose: turn the image upright by its EXIF orientation.
            ``None`` (default): yes, unless the sample carries ``gt_boxes``,
            whose coordinates (pseudo-label cache, COCO) refer to the pixels as
            stored.
    """

    def __init__(self, size=(224, 224), max_pixels: int = DEFAULT_MAX_PIXELS, exif_transpose: Optional[bool] = None):
        self.size = tuple(size) if size else None
        self.max_pixels = max_pixels
        self.exif_transpose = exif_transpose

    def __call__(self, results: dict) -> dict:
        results['img'] = None
        path = results.get('img_path')
        if results.get('has_image', True) and path:
            upright = self.exif_transpose if self.exif_transpose is not None else 'gt_boxes' not in results
            loaded = load_image(path, 'RGB', exif_transpose=upright, max_pixels=self.max_pixels)
            if loaded.ok:
                img = loaded.image
                results['ori_shape'] = (img.height, img.width)
                if self.size:
                    img = img.resize(self.size, Image.BICUBIC)
                results['img'] = np.asarray(img, dtype=np.uint8)
            else:
                MMLogger.get_current_instance().warning(
                    f'cannot read image {path} ({loaded.status}: {loaded.reason}); sample runs without image')
        results['has_image'] = results['img'] is not None
        return results

    def __repr__(self):
        return f'{type(self).__name__}(size={self.size})'
