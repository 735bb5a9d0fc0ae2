"""UMT's multimodal interaction module on top of the text encoder."""
from typing import Optional

import torch
import torch.nn as nn

from pmu.registry import MODELS
from .base import BaseFusion, FusionOutput, scatter_rows


class CrossModalTransformerLayer(nn.Module):
    """UMT's cross-modal transformer layer (its ``BertCrossAttentionLayer``).

    Queries from one side attend to the keys and values of the other, then
    add & norm, feed-forward, add & norm: a BERT layer whose attention reads
    another sequence. With ``context = query`` it is a self-attention layer.
    """

    def __init__(self, hidden: int, heads: int, ffn: int, dropout: float):
        super().__init__()
        self.attn = nn.MultiheadAttention(hidden, heads, dropout=dropout, batch_first=True)
        self.norm1 = nn.LayerNorm(hidden)
        self.ffn = nn.Sequential(nn.Linear(hidden, ffn), nn.GELU(), nn.Linear(ffn, hidden))
        self.norm2 = nn.LayerNorm(hidden)
        self.dropout = nn.Dropout(dropout)

    def forward(self,
                query: torch.Tensor,
                context: torch.Tensor,
                context_pad: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``query [n, Lq, D]``, ``context [n, Lc, D]``, ``context_pad [n, Lc]`` (True: ignore)."""
        a, _ = self.attn(query, context, context, key_padding_mask=context_pad, need_weights=False)
        h = self.norm1(query + self.dropout(a))
        return self.norm2(h + self.dropout(self.ffn(h)))


@MODELS.register_module()
class UMTFusion(BaseFusion):
    """The multimodal interaction module of UMT.

    Yu et al., "Improving Multimodal Named Entity Recognition via Entity Span
    Detection with Unified Multimodal Transformer", ACL 2020 (official code:
    jefferyYu/UMT, ``MTCCMBertForMMTokenClassificationCRF``).

    **Kept.** On top of the whole text encoder (``C [B, L, D]``) and the
    visual tokens, as the official code wires it:

    - a new self-attention layer over ``C`` (its ``self_attention_v2``) → ``T``;
    - image-aware word representations: ``T`` attends to the visual tokens
      (projected by ``visual_to_text``) → ``A``;
    - word-aware visual representations: the visual tokens (a second
      projection, ``visual_to_text_v2``) attend to ``T`` → ``Q [B, T_v, D]``,
      and ``T`` attends to ``Q`` → ``B``;
    - the visual gate ``g = sigmoid(W [B; A])`` (one linear layer over the
      concatenation, which equals ``W_b B + W_a A``) and the fused states
      ``[B; g * A]``.

    Each interaction is one layer, as the official defaults; the new layers
    take BERT's head count and feed-forward ratio.

    **Simplified.**

    - *Output size.* UMT's classifier reads ``[B; g * A]`` (``2D``); here a
      linear layer maps it back to ``D``, so the NER and RE heads and the
      checkpoint layout are those of every other fusion.
    - *Entity span detection.* UMT trains an auxiliary tagger (a further new
      layer over ``C``, then BIO without types, with a CRF of its own) and
      adds its scores, through a conversion matrix, to the typed tagger's
      (``alpha = 0.5``, aux loss weight 0.5). The tagger, its loss and the
      conversion need span labels in the NER model's loss, outside the fusion:
      they are **not wired**. With ``aux_branch=True`` the fusion owns that
      text-only layer and leaves its output ``[B, L, D]`` in
      ``self.aux_text_states`` after each forward, for a head to read; without
      such a head the layer gets no gradient (default ``False``).
    - *Visual backbone.* UMT reads a ResNet-152's 7 x 7 grid; here whatever
      tokens the visual encoder gives (all of them, summary token included).

    For MRE (not a task of the paper) the same interaction feeds the relation
    head, which reads the fused states at the entity markers.

    Samples without an image skip the module: their states are those of the
    text encoder, computed on the whole batch (tested). ``FusionOutput.visual`` is ``Q``, the
    word-aware visual tokens (zeros for rows without an image).

    Args:
        hidden: text hidden size (filled in; the fused states keep it).
        visual_channels: channels of the visual tokens (filled in).
        num_heads: heads of the new layers (filled in from the text encoder).
        ffn_ratio: feed-forward width of the new layers over ``hidden``
            (BERT's: 4).
        dropout: on the text encoder's states (as UMT) and in the new layers.
        aux_branch: build the text-only layer of the span-detection branch.
    """

    def __init__(self,
                 hidden: int,
                 visual_channels: int,
                 num_heads: int,
                 ffn_ratio: int = 4,
                 dropout: float = 0.1,
                 aux_branch: bool = False,
                 init_cfg=None):
        super().__init__(init_cfg)

        def layer():
            return CrossModalTransformerLayer(hidden, num_heads, hidden * ffn_ratio, dropout)

        self.dropout = nn.Dropout(dropout)
        self.text_layer = layer()
        self.visual_to_text = nn.Linear(visual_channels, hidden)
        self.visual_to_text_v2 = nn.Linear(visual_channels, hidden)
        self.text_to_image = layer()
        self.image_to_text = layer()
        self.text_to_text = layer()
        self.gate = nn.Linear(2 * hidden, hidden)
        self.out_proj = nn.Linear(2 * hidden, hidden)
        self.aux_layer = layer() if aux_branch else None
        # read by a span-detection head; set on every forward (None without aux_branch)
        self.aux_text_states: Optional[torch.Tensor] = None

    def fuse(self, text_encoder, text_states, attention_mask, visual=None, has_image=None) -> FusionOutput:
        B = text_states.shape[0]
        text_pad = attention_mask == 0
        self.aux_text_states = None
        if self.aux_layer is not None:
            # text-only, so computed for every row, image or not
            c = self.dropout(text_states)
            self.aux_text_states = self.aux_layer(c, c, text_pad)
        if visual is None or has_image is None or not bool(has_image.any()):
            return FusionOutput(text_states, None, has_image)
        has_image = has_image.bool()
        with_img = has_image.nonzero().squeeze(1)
        c = self.dropout(text_states[with_img])  # [n, L, D]
        pad = text_pad[with_img]
        t = self.text_layer(c, c, pad)
        a = self.text_to_image(t, self.visual_to_text(visual[with_img]))  # image-aware words [n, L, D]
        q = self.image_to_text(self.visual_to_text_v2(visual[with_img]), t, pad)  # word-aware visual [n, T, D]
        b = self.text_to_text(t, q)  # [n, L, D]
        g = torch.sigmoid(self.gate(torch.cat([b, a], -1)))
        fused = self.out_proj(torch.cat([b, g * a], -1))  # [n, L, 2D] → [n, L, D]
        # rows without an image keep the text encoder's states as they are
        text = text_states.index_copy(0, with_img, fused.to(text_states.dtype))
        return FusionOutput(text, scatter_rows(q, with_img, B), has_image)
