"""Losses of PROMU's alignment heads (COE, CIR) against the teacher's soft pseudo-labels.

Each takes ``logits [N, V]``, ``target [N, V]`` (rows sum to 1) and
``valid [N]`` (rows the teacher was confident about, whose box survived the
crop, ...) and returns a scalar: the mean over the valid rows, times
``loss_weight``. With no valid row the loss is a zero that keeps the head in
the graph (DDP expects every parameter to get a gradient).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from pmu.registry import MODELS


class _MaskedAlignmentLoss(nn.Module):

    def __init__(self, loss_weight: float = 1.0):
        super().__init__()
        self.loss_weight = loss_weight

    def per_row(self, logp: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, logits: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        if not valid.any():
            return logits.sum() * 0.0
        logp = F.log_softmax(logits[valid].float(), dim=-1)
        return self.per_row(logp, target[valid].float()).mean() * self.loss_weight


@MODELS.register_module()
class SoftCrossEntropyLoss(_MaskedAlignmentLoss):
    """``-sum_v target_v log p_v``: the official code's loss (PROMU's COE and CIR)."""

    def per_row(self, logp, target):
        return -(target * logp).sum(-1)


@MODELS.register_module()
class KLDivergenceLoss(_MaskedAlignmentLoss):
    """``KL(target || p) = sum_v target_v (log target_v - log p_v)``.

    The soft cross-entropy minus the target's entropy: the same gradient, but
    zero at a perfect fit, so its value says how far the head is from the teacher.
    """

    def per_row(self, logp, target):
        return (torch.xlogy(target, target) - target * logp).sum(-1)


@MODELS.register_module()
class HardCrossEntropyLoss(_MaskedAlignmentLoss):
    """Cross-entropy against the argmax of the soft target (the teacher's top entry only)."""

    def per_row(self, logp, target):
        return -logp.gather(1, target.argmax(-1, keepdim=True)).squeeze(1)
