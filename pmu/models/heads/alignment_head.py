"""PROMU's alignment heads: a fused feature → a distribution over a prompt vocabulary (COE, CIR)."""
from typing import Optional

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from pmu.registry import MODELS


@MODELS.register_module()
class SoftAlignmentHead(BaseModule):
    """MLP → vocabulary logits, trained against the teacher's soft pseudo-labels.

    COE (object region → entity vocabulary) and CIR (image context → relation
    vocabulary) are two instances; ``name`` makes their log keys
    (``loss_coe``, ``coe_labelled``, ``coe_agreement``).

    Args:
        in_channels: the fused hidden size (filled in by the pre-trainer).
        num_classes: vocabulary size (filled in from the vocabulary file).
        name: ``'coe'`` or ``'cir'``: the suffix of the log keys.
        loss: a config of ``pmu.models.losses.alignment`` (``SoftCrossEntropyLoss``,
            ``KLDivergenceLoss``, ``HardCrossEntropyLoss``), with ``loss_weight``.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 name: str,
                 loss: dict = dict(type='SoftCrossEntropyLoss'),
                 init_cfg=None):
        super().__init__(init_cfg)
        self.name = name
        self.num_classes = num_classes
        self.mlp = nn.Sequential(nn.Linear(in_channels, in_channels), nn.GELU(), nn.LayerNorm(in_channels),
                                 nn.Linear(in_channels, num_classes))
        self.loss_align = MODELS.build(loss)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        """``[N, D]`` → ``[N, num_classes]`` logits."""
        return self.mlp(feats)

    def loss(self, feats: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> dict:
        """``feats [N, D]``, ``target [N, V]``, ``valid [N]`` bool.

        ``loss_<name>``; ``<name>_labelled``: share of the rows with a label;
        ``<name>_agreement``: share of the labelled rows where the head's argmax
        is the teacher's (left out when no row is labelled).
        """
        logits = self(feats)
        out = {f'loss_{self.name}': self.loss_align(logits, target, valid),
               f'{self.name}_labelled': valid.float().mean() if len(valid) else valid.new_zeros((), dtype=torch.float)}
        agreement = self.agreement(logits.detach(), target, valid)
        if agreement is not None:
            out[f'{self.name}_agreement'] = agreement
        return out

    @staticmethod
    def agreement(logits: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> Optional[torch.Tensor]:
        if not valid.any():
            return None
        return (logits[valid].argmax(-1) == target[valid].argmax(-1)).float().mean()

    def predict(self, feats: torch.Tensor) -> torch.Tensor:
        """``[N, num_classes]`` probabilities."""
        return self(feats).float().softmax(-1)
