"""An ALBEF-style fusion block on top of the text encoder: text tokens cross-attend to visual tokens."""
import torch
import torch.nn as nn

from pmu.registry import MODELS
from .base import BaseFusion, FusionOutput


class CrossModalLayer(nn.Module):
    """Self-attention over text, cross-attention to the image, feed-forward.

    Samples without an image skip the cross-attention and its LayerNorm
    (``gate`` is ``has_image``), so their text states are never mixed with
    placeholders and equal those of a batch with no visual side at all.
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
            # rows without an image keep h as it is (not even re-normalised)
            h = torch.where(gate > 0, self.norm2(h + self.dropout(c)), h)
        return self.norm3(h + self.dropout(self.ffn(h)))


@MODELS.register_module()
class CrossAttentionFusion(BaseFusion):
    """New transformer layers after the text encoder: self-attention over the
    text, gated cross-attention to the visual tokens, feed-forward (ALBEF's
    fusion layers, in the manner of many MNER models).

    Unlike :class:`SingleStreamFusion` (PROMU's), the visual tokens are only
    read, never updated: ``FusionOutput.visual`` is the projected input. An
    alternative to compare with; the PROMU configs use the single-stream one.

    Args:
        hidden: text hidden size (filled in; the fused states keep it).
        visual_channels: channels of the visual tokens (filled in; projected).
        num_layers, num_heads, ffn_ratio, dropout: the fusion transformer.
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

    def fuse(self, text_encoder, text_states, attention_mask, visual=None, has_image=None) -> FusionOutput:
        text_pad = attention_mask == 0
        visual_pad = gate = None
        if visual is not None:
            visual = self.visual_proj(visual)
            gate = has_image.to(text_states.dtype)[:, None, None]
            # Rows with no image attend to zeros that the gate then discards;
            # fully masked rows would give NaNs in softmax.
            visual_pad = torch.zeros(visual.shape[:2], dtype=torch.bool, device=visual.device)
        h = text_states
        for layer in self.layers:
            h = layer(h, text_pad, visual, visual_pad, gate)
        return FusionOutput(h, visual, has_image)
