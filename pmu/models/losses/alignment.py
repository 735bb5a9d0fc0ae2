import torch
import torch.nn as nn
import torch.nn.functional as F

from pmu.registry import MODELS


@MODELS.register_module()
class SoftLabelAlignmentLoss(nn.Module):
    """Soft cross-entropy between a head's logits and the teacher's soft pseudo-labels.

    Used for COE (object region → entity vocabulary) and CIR (image context →
    relation vocabulary). Rows the teacher was not confident about
    (``valid == False``) are left out; with none left the loss is a zero that
    keeps the head in the graph (DDP expects every parameter to get a gradient).

    Forward: ``logits [N, V]``, ``target [N, V]`` (rows sum to 1), ``valid [N]`` → scalar.
    """

    def __init__(self, loss_weight: float = 1.0):
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, logits: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        if not valid.any():
            return logits.sum() * 0.0
        logp = F.log_softmax(logits[valid].float(), dim=-1)
        return -(target[valid].float() * logp).sum(-1).mean() * self.loss_weight
