"""Image–text matching (ITM): a binary classifier on the fused [CLS], with hard negatives."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from pmu.registry import MODELS


def sample_hard_negatives(sim: torch.Tensor, positive: torch.Tensor,
                          generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """For each row, a column drawn with probability ``softmax(sim)`` over its non-positive columns.

    ``sim [N, M]`` (no gradient needed), ``positive [N, M]`` bool → ``[N]`` column
    indices, ``-1`` for rows whose every column is positive. Similar but wrong
    partners are drawn most often: ALBEF's hard negatives.
    """
    weights = F.softmax(sim.detach().float(), dim=1).masked_fill(positive, 0.0)
    has = weights.sum(1) > 0
    out = torch.full((len(sim), ), -1, dtype=torch.long, device=sim.device)
    if has.any():
        w = weights[has] + 1e-12 * (~positive[has]).float()  # softmax may underflow to 0 everywhere
        out[has] = torch.multinomial(w, 1, generator=generator).squeeze(1)
    return out


@MODELS.register_module()
class ImageTextMatchingLoss(nn.Module):
    """Cross-entropy of the ITM head's 2-way logits (1 = the caption matches the image).

    Forward: ``logits [N, 2]``, ``labels [N]`` (long) → scalar.
    """

    def __init__(self, loss_weight: float = 1.0):
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits.float(), labels) * self.loss_weight
