"""The small computations of PROMU's alignment: soft pseudo-labels, box → visual grid pooling."""
import hashlib
from typing import Tuple

import torch
import torch.nn.functional as F


def soft_pseudo_labels(sim: torch.Tensor, tau: float, threshold: float = 0.2,
                       hard: bool = False) -> Tuple[torch.Tensor, torch.Tensor]:
    """Teacher similarities ``[N, V]`` → labels ``softmax(sim / tau)`` ``[N, V]`` and ``valid [N]``.

    A sample is kept when its largest *probability* reaches ``threshold`` (the
    official code compares the argmax index with the threshold, which keeps
    almost everything). ``hard=True`` turns each kept label into the one-hot
    of its argmax (ablation).
    """
    probs = F.softmax(sim.float() / tau, dim=-1)
    top, index = probs.max(-1)
    valid = top >= threshold
    if hard:
        probs = F.one_hot(index, probs.shape[-1]).to(probs.dtype)
    return probs, valid


def box_grid_weights(boxes: torch.Tensor, image_hw: Tuple[int, int], grid_hw: Tuple[int, int]) -> torch.Tensor:
    """Pooling weights of boxes over a visual token grid.

    ``boxes [N, 4]`` (x1, y1, x2, y2 in pixels of the ``image_hw`` input) → ``[N, h * w]``
    (row-major like the encoders' token order): each cell weighs by the area it
    shares with the box, normalised to sum 1; a box that covers no cell gets a
    zero row.
    """
    (H, W), (h, w) = image_hw, grid_hw
    boxes = boxes.float()
    xe = torch.linspace(0, W, w + 1, device=boxes.device)
    ye = torch.linspace(0, H, h + 1, device=boxes.device)
    ox = (torch.minimum(boxes[:, 2:3], xe[None, 1:]) - torch.maximum(boxes[:, 0:1], xe[None, :-1])).clamp(min=0)
    oy = (torch.minimum(boxes[:, 3:4], ye[None, 1:]) - torch.maximum(boxes[:, 1:2], ye[None, :-1])).clamp(min=0)
    area = (oy[:, :, None] * ox[:, None, :]).flatten(1)  # [N, h*w]
    return area / area.sum(1, keepdim=True).clamp(min=1e-6)


def grid_shape(num_tokens: int, image_hw: Tuple[int, int]) -> Tuple[int, int]:
    """``(h, w)`` of a grid of ``num_tokens`` cells that keeps the image's aspect."""
    h = max(1, round((num_tokens * image_hw[0] / image_hw[1]) ** 0.5))
    w = num_tokens // h
    if h * w != num_tokens:
        raise ValueError(f'{num_tokens} visual tokens do not form a grid for an image of {image_hw}')
    return h, w


def image_id(path: str) -> int:
    """A stable non-negative id of an image path, the same on every rank (ITC positives across ranks)."""
    return int.from_bytes(hashlib.blake2b(path.encode('utf-8'), digest_size=7).digest(), 'big')
