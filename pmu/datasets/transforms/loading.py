import numpy as np
from mmengine.logging import MMLogger
from PIL import Image

from pmu.registry import TRANSFORMS


@TRANSFORMS.register_module()
class LoadImage:
    """Read ``img_path`` into ``results['img']`` (RGB uint8, HWC) and resize it.

    A sample without a usable image gets ``img = None`` and
    ``has_image = False``: the model then masks the visual side out of fusion
    instead of looking at a made-up black picture.

    Args:
        size: ``(width, height)`` to resize to, or ``None`` to keep the size.
        max_pixels: images larger than this are refused as unusable (guards
            against decompression bombs).
    """

    def __init__(self, size=(224, 224), max_pixels: int = 64_000_000):
        self.size = tuple(size) if size else None
        self.max_pixels = max_pixels

    def __call__(self, results: dict) -> dict:
        results['img'] = None
        path = results.get('img_path')
        if results.get('has_image', True) and path:
            try:
                with Image.open(path) as img:
                    if img.width * img.height > self.max_pixels:
                        raise OSError(f'{img.width}x{img.height} exceeds max_pixels')
                    img = img.convert('RGB')
                    results['ori_shape'] = (img.height, img.width)
                    if self.size:
                        img = img.resize(self.size, Image.BICUBIC)
                    results['img'] = np.asarray(img, dtype=np.uint8)
            except (OSError, ValueError) as e:
                MMLogger.get_current_instance().warning(
                    f'cannot read image {path} ({e}); sample runs without image')
        results['has_image'] = results['img'] is not None
        return results

    def __repr__(self):
        return f'{type(self).__name__}(size={self.size})'
