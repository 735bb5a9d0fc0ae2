import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from pmu.registry import MODELS


@MODELS.register_module()
class RelationClassificationHead(BaseModule):
    """Relation logits from the head and tail entities' marker states.

    ``[head; tail]`` (``2 * in_channels``) → dropout → linear → GELU → dropout
    → linear → ``num_classes`` logits; cross-entropy loss.

    Args:
        in_channels: size of one entity's feature (the fused hidden size).
        num_classes: relations including ``None``.
        hidden_channels: width of the MLP's hidden layer (default
            ``in_channels``).
        dropout: before each linear layer.
        loss_weight: scales the cross-entropy.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 hidden_channels: int = None,
                 dropout: float = 0.1,
                 loss_weight: float = 1.0,
                 init_cfg=None):
        super().__init__(init_cfg)
        hidden_channels = hidden_channels or in_channels
        self.mlp = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(2 * in_channels, hidden_channels), nn.GELU(),
            nn.Dropout(dropout), nn.Linear(hidden_channels, num_classes))
        self.loss_weight = loss_weight

    def forward(self, head_feats: torch.Tensor, tail_feats: torch.Tensor) -> torch.Tensor:
        """``[B, C]`` head and tail features → ``[B, num_classes]`` logits."""
        return self.mlp(torch.cat([head_feats, tail_feats], dim=-1))

    def loss(self, head_feats, tail_feats, labels: torch.Tensor) -> dict:
        """Mean cross-entropy over the batch's instances."""
        loss = F.cross_entropy(self(head_feats, tail_feats), labels)
        return dict(loss_rel=self.loss_weight * loss)

    def predict(self, head_feats, tail_feats) -> torch.Tensor:
        """``[B, num_classes]`` probabilities."""
        return self(head_feats, tail_feats).softmax(-1)
