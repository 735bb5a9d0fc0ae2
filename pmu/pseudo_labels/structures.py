"""The one output structure that every detector returns."""
from dataclasses import dataclass, field
from typing import List, Sequence, Tuple

import numpy as np


@dataclass
class Detections:
    """Objects found in one image.

    ``boxes`` are ``x1, y1, x2, y2`` in the original image's pixels (float32,
    ``[N, 4]``), ``scores`` float32 ``[N]``, ``labels`` int64 ``[N]``, indices
    into ``class_names``.
    """
    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    class_names: Tuple[str, ...]
    # boxes removed by clip_and_filter(); kept so that every drop is counted
    num_degenerate: int = 0
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        self.boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
        self.scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        self.labels = np.asarray(self.labels, dtype=np.int64).reshape(-1)
        self.class_names = tuple(self.class_names)
        n = len(self.boxes)
        if len(self.scores) != n or len(self.labels) != n:
            raise ValueError(f'Detections: {n} boxes but {len(self.scores)} scores and '
                             f'{len(self.labels)} labels')
        if n and (self.labels.min() < 0 or self.labels.max() >= len(self.class_names)):
            raise ValueError(f'Detections: label indices {self.labels.min()}..{self.labels.max()} '
                             f'outside the {len(self.class_names)} class names')

    def __len__(self) -> int:
        return len(self.boxes)

    @classmethod
    def empty(cls, class_names: Sequence[str]) -> 'Detections':
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros(0), class_names)

    def select(self, keep: np.ndarray) -> 'Detections':
        return Detections(self.boxes[keep], self.scores[keep], self.labels[keep], self.class_names,
                          self.num_degenerate, dict(self.extra))

    def clip_and_filter(self, width: int, height: int, min_size: float = 1.0) -> 'Detections':
        """Clip boxes to the image and drop those narrower or lower than ``min_size``.

        Detectors that work on a resized copy can put corners outside the image,
        and boxes that collapse (or come out with x2 < x1) carry no region to
        align with; they are dropped and counted in ``num_degenerate``.
        """
        boxes = self.boxes.copy()
        np.clip(boxes[:, 0::2], 0, width, out=boxes[:, 0::2])
        np.clip(boxes[:, 1::2], 0, height, out=boxes[:, 1::2])
        keep = ((boxes[:, 2] - boxes[:, 0] >= min_size) & (boxes[:, 3] - boxes[:, 1] >= min_size)
                & np.isfinite(boxes).all(axis=1))
        out = Detections(boxes[keep], self.scores[keep], self.labels[keep], self.class_names,
                         self.num_degenerate + int((~keep).sum()), dict(self.extra))
        return out

    def top(self, score_thr: float = 0.0, max_per_image: int = -1) -> 'Detections':
        """Keep boxes scoring at least ``score_thr``, best first, at most ``max_per_image``."""
        order = np.argsort(-self.scores, kind='stable')
        order = order[self.scores[order] >= score_thr]
        if max_per_image >= 0:
            order = order[:max_per_image]
        return self.select(order)

    def to_records(self, ndigits: int = 2) -> List[dict]:
        """JSON-ready objects: ``{'box': [x1, y1, x2, y2], 'label': name, 'score': s}``."""
        return [
            dict(box=[round(float(v), ndigits) for v in box], label=self.class_names[label],
                 score=round(float(score), 4))
            for box, score, label in zip(self.boxes, self.scores, self.labels)
        ]
