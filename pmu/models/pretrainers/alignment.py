"""The small computations of PROMU's alignment: soft pseudo-labels, box → visual grid pooling."""
import hashlib
from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F

# How the teacher's similarities become labels: the one place of these defaults in code (the
# student's ``pseudo_labels`` and :class:`~pmu.pseudo_labels.soft_labeler.SoftPromptLabeler` start
# from it; a config's ``model.pseudo_labels`` sets only what differs).
# ``tau``: a number or ``'teacher'`` (the teacher's learned ITC temperature, clamped).
DEFAULT_PSEUDO_LABELS = dict(tau=0.02, threshold=0.2, hard=False, entity_templates=dict(type='promu_entity'),
                             relation_templates=dict(type='promu_relation'))


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


def distinct_images(images: torch.Tensor, paths: Sequence[str]) -> Tuple[List[int], List[int]]:
    """The batch's distinct images: ``keep`` (rows of ``images`` to encode) and ``index`` (for each
    sample, its image's position in ``keep``). Samples share a row only when their paths are equal
    and so are their pixels, so an augmented view is never replaced by another view of its image."""
    keep, index, first = [], [], {}
    for i, path in enumerate(paths):
        j = first.get(path)
        if j is not None and torch.equal(images[keep[j]], images[i]):
            index.append(j)
            continue
        first.setdefault(path, len(keep))
        index.append(len(keep))
        keep.append(i)
    return keep, index


def image_id(path: str) -> int:
    """A stable non-negative id of an image path, the same on every rank (ITC positives across ranks)."""
    return int.from_bytes(hashlib.blake2b(path.encode('utf-8'), digest_size=7).digest(), 'big')


def crop_boxes(images: torch.Tensor, index: torch.Tensor, boxes: torch.Tensor,
               out_hw: Tuple[int, int]) -> torch.Tensor:
    """Bilinear crops of ``images [B, C, H, W]``: box ``boxes[i]`` (x1, y1, x2, y2 in pixels) of image
    ``index[i]``, resized to ``out_hw`` → ``[N, C, h, w]`` (the online teacher's COE view: the part of
    the object the student's crop keeps)."""
    H, W = images.shape[-2:]
    b = boxes.float()
    theta = torch.zeros(len(b), 2, 3, device=images.device)
    theta[:, 0, 0] = (b[:, 2] - b[:, 0]) / W
    theta[:, 0, 2] = (b[:, 0] + b[:, 2]) / W - 1
    theta[:, 1, 1] = (b[:, 3] - b[:, 1]) / H
    theta[:, 1, 2] = (b[:, 1] + b[:, 3]) / H - 1
    src = images[index].float()
    grid = F.affine_grid(theta, [len(b), src.shape[1], *out_hw], align_corners=False)
    return F.grid_sample(src, grid, mode='bilinear', padding_mode='border', align_corners=False)
