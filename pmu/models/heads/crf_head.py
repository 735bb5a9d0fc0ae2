from typing import List

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from torchcrf import CRF

from pmu.registry import MODELS


@MODELS.register_module()
class CRFTaggingHead(BaseModule):
    """Word-level emissions + a linear-chain CRF (pytorch-crf).

    Args:
        in_channels: size of the word features.
        num_tags: BIO tags including ``O``.
        dropout: on the word features before the emission layer.
        loss_weight: scales the negative log-likelihood.
    """

    def __init__(self,
                 in_channels: int,
                 num_tags: int,
                 dropout: float = 0.1,
                 loss_weight: float = 1.0,
                 init_cfg=None):
        super().__init__(init_cfg)
        self.dropout = nn.Dropout(dropout)
        self.emission = nn.Linear(in_channels, num_tags)
        self.crf = CRF(num_tags, batch_first=True)
        self.loss_weight = loss_weight

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        """``[B, W, C]`` word features → ``[B, W, num_tags]`` emissions.

        Always float32: the CRF's log-sum-exp over paths loses too much in bfloat16.
        """
        return self.emission(self.dropout(feats)).float()

    def loss(self, feats, mask, tags) -> dict:
        """Mean negative log-likelihood over the batch's sentences."""
        nll = -self.crf(self(feats), tags, mask=mask, reduction='mean')
        return dict(loss_crf=self.loss_weight * nll)

    def predict(self, feats, mask) -> List[List[int]]:
        """Viterbi paths, one tag id per unmasked word."""
        return self.crf.decode(self(feats), mask=mask)
