"""What every object detector of the preparation shares: the input it gets and the post-processing.

``BaseObjectDetector`` is pmu's own small base (a callable over decoded images), not the ``nn.Module``
base of MMDetection's detectors; ``MMDetDetector`` wraps one of those."""
from dataclasses import dataclass
from typing import List, Sequence

from PIL import Image

from ..structures import Detections


@dataclass
class ImageInput:
    """One image for a detector: its path, size and decoded RGB pixels."""
    path: str
    width: int
    height: int
    image: Image.Image


class BaseObjectDetector:
    """Boxes for a batch of images: subclasses implement ``_detect``; ``__call__`` makes outputs uniform.

    Args:
        score_thr: boxes scoring below are dropped.
        max_per_image: keep at most this many boxes an image, best first (-1: all).
        min_box_size: after clipping to the image, boxes narrower or lower than
            this (pixels) are degenerate: dropped and counted.
        batch_size: images per ``_detect`` call.
    """
    def __init__(self, score_thr: float = 0.3, max_per_image: int = 10, min_box_size: float = 1.0,
                 batch_size: int = 8):
        self.score_thr = score_thr
        self.max_per_image = max_per_image
        self.min_box_size = min_box_size
        self.batch_size = batch_size

    @property
    def name(self) -> str:
        """Identifies the detector in the cache summary."""
        return type(self).__name__

    def _detect(self, images: Sequence[ImageInput]) -> List[Detections]:
        raise NotImplementedError

    def __call__(self, images: Sequence[ImageInput]) -> List[Detections]:
        results = []
        for start in range(0, len(images), self.batch_size):
            chunk = images[start:start + self.batch_size]
            for img, det in zip(chunk, self._detect(chunk)):
                det = det.clip_and_filter(img.width, img.height, self.min_box_size)
                results.append(det.top(self.score_thr, self.max_per_image))
        return results
