"""Image–text matching (ITM): is this caption about this image? Read from the fused [CLS]."""
import torch
import torch.nn as nn
from mmengine.model import BaseModule

from pmu.registry import MODELS


@MODELS.register_module()
class ITMHead(BaseModule):
    """A 2-way classifier on the fused [CLS] state (1 = the caption matches the image).

    Args:
        in_channels: the fused hidden size (filled in by the pre-trainer).
        loss: the loss config (``ImageTextMatchingLoss``, with ``loss_weight``).
    """

    def __init__(self, in_channels: int, loss: dict = dict(type='ImageTextMatchingLoss'), init_cfg=None):
        super().__init__(init_cfg)
        self.fc = nn.Linear(in_channels, 2)
        self.loss_itm = MODELS.build(loss)

    def forward(self, fused_cls: torch.Tensor) -> torch.Tensor:
        """``[N, D]`` → ``[N, 2]`` logits."""
        return self.fc(fused_cls)

    def loss(self, fused_cls: torch.Tensor, labels: torch.Tensor) -> dict:
        """``loss_itm`` and ``itm_acc`` (share of pairs classified right) over ``labels [N]`` (long)."""
        logits = self(fused_cls)
        acc = (logits.argmax(1) == labels).float().mean()
        return dict(loss_itm=self.loss_itm(logits, labels), itm_acc=acc.detach())

    def predict(self, fused_cls: torch.Tensor) -> torch.Tensor:
        """``[N]`` probability that each caption matches its image."""
        return self(fused_cls).float().softmax(-1)[:, 1]
