"""Cross-modal fusion: text tokens attend to visual tokens (ALBEF-style)."""
from typing import Optional

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from pmu.registry import MODELS


class CrossModalLayer(nn.Module):
    """Self-attention over text, cross-attention to the image, feed-forward.

    Samples without an image skip the cross-attention: its residual is gated
    by ``has_image``, so their text states are never mixed with placeholders.
    """

    def __init__(self, hidden: int, heads: int, ffn: int, dropout: float):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(hidden, heads, dropout=dropout, batch_first=True)
        self.cross_attn = nn.MultiheadAttention(hidden, heads, dropout=dropout, batch_first=True)
        self.ffn = nn.Sequential(
            nn.Linear(hidden, ffn), nn.GELU(), nn.Dropout(dropout), nn.Linear(ffn, hidden))
        self.norm1 = nn.LayerNorm(hidden)
        self.norm2 = nn.LayerNorm(hidden)
        self.norm3 = nn.LayerNorm(hidden)
        self.dropout = nn.Dropout(dropout)

    def forward(self, h, text_pad, visual, visual_pad, gate):
        a, _ = self.self_attn(h, h, h, key_padding_mask=text_pad, need_weights=False)
        h = self.norm1(h + self.dropout(a))
        if visual is not None:
            c, _ = self.cross_attn(h, visual, visual, key_padding_mask=visual_pad,
                                   need_weights=False)
            h = self.norm2(h + gate * self.dropout(c))
        return self.norm3(h + self.dropout(self.ffn(h)))


@MODELS.register_module()
class PromuFusion(BaseModule):
    """PROMU's cross-modal encoder on top of the text encoder.

    Args:
        hidden: text hidden size (the fused states keep it).
        visual_channels: channels of the visual tokens (projected to ``hidden``).
        num_layers, num_heads, ffn_ratio, dropout: the fusion transformer.
    Forward: ``text [B, L, D]``, ``text_mask [B, L]``, ``visual [B, T, C]`` or
    ``None``, ``has_image [B]`` → ``[B, L, D]``.
    """

    def __init__(self,
                 hidden: int,
                 visual_channels: int,
                 num_layers: int = 2,
                 num_heads: int = 8,
                 ffn_ratio: int = 4,
                 dropout: float = 0.1,
                 init_cfg=None):
        super().__init__(init_cfg)
        self.visual_proj = nn.Sequential(nn.Linear(visual_channels, hidden), nn.LayerNorm(hidden))
        self.layers = nn.ModuleList(
            CrossModalLayer(hidden, num_heads, hidden * ffn_ratio, dropout)
            for _ in range(num_layers))

    def forward(self,
                text: torch.Tensor,
                text_mask: torch.Tensor,
                visual: Optional[torch.Tensor] = None,
                has_image: Optional[torch.Tensor] = None) -> torch.Tensor:
        text_pad = text_mask == 0
        visual_pad = gate = None
        if visual is not None:
            visual = self.visual_proj(visual)
            gate = has_image.to(text.dtype)[:, None, None]
            # Rows with no image attend to zeros that the gate then discards;
            # fully masked rows would give NaNs in softmax.
            visual_pad = torch.zeros(visual.shape[:2], dtype=torch.bool, device=visual.device)
        h = text
        for layer in self.layers:
            h = layer(h, text_pad, visual, visual_pad, gate)
        return h


@MODELS.register_module()
class TextOnlyFusion(BaseModule):
    """No fusion: the text encoder's states go straight to the head."""

    def forward(self, text, text_mask, visual=None, has_image=None):
        return text
