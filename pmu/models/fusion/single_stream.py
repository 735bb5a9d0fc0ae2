"""PROMU's fusion: the text encoder's upper layers, single-stream over [text; visual tokens]."""

import torch
import torch.nn as nn

from pmu.registry import MODELS
from .base import BaseFusion, FusionOutput, scatter_rows


@MODELS.register_module()
class SingleStreamFusion(BaseFusion):
    """The fusion of PROMU (Hu et al., ACM MM 2023) and of its official code.

    The text encoder is split at ``text_layers - num_layers``: the lower layers
    encode the text alone (:meth:`encode_text`); the upper ``num_layers`` run
    merged self-attention over the concatenation ``[text tokens; projected
    visual tokens]`` with one attention mask. They are the text encoder's own
    pre-trained layers (no cross-attention, nothing new but the projection), so
    text and visual tokens are both updated, and the fused visual tokens come
    out too: PROMU's object-entity (COE) and image-relation (CIR) alignment
    pool them, so those losses train the fusion layers and the text encoder.

    The visual tokens have no position (no position embedding, and for MPNet
    a relative position bias that does not depend on the text's padding, see
    :func:`~pmu.models.encoders.text.mpnet_position_bias`): a post and its
    image get the same states whatever the batch's longest post (tested).

    Samples without an image run the upper layers over their text alone, which
    is the text encoder's own forward pass: no visual input reaches them,
    whatever else the batch holds (tested; :class:`BaseFusion` on exactness).

    Args:
        hidden: text hidden size (filled in from the text encoder).
        visual_channels: channels of the visual tokens (filled in).
        text_layers: layers of the text encoder (filled in).
        num_layers: upper layers that fuse (the official code: 6 of BERT's 12;
            pmu's lite configs: 2 of MiniLM's 6).
    """

    def __init__(self,
                 hidden: int,
                 visual_channels: int,
                 text_layers: int,
                 num_layers: int = 2,
                 init_cfg=None):
        super().__init__(init_cfg)
        if not 1 <= num_layers <= text_layers:
            raise ValueError(f'num_layers={num_layers}: the text encoder has {text_layers} layers; '
                             f'choose 1..{text_layers}')
        self.num_layers = num_layers
        self.split = text_layers - num_layers
        self.visual_proj = nn.Sequential(nn.Linear(visual_channels, hidden), nn.LayerNorm(hidden))
        # tells the shared layers which tokens are visual (BERT's token types are text-only)
        self.visual_type = nn.Parameter(torch.zeros(hidden))

    def encode_text(self, text_encoder, input_ids, attention_mask, token_type_ids=None):
        return text_encoder.encode_layers(text_encoder.embed(input_ids, token_type_ids), attention_mask, 0,
                                          self.split)

    def fuse(self, text_encoder, text_states, attention_mask, visual=None, has_image=None) -> FusionOutput:
        B, L, _ = text_states.shape
        if visual is None or has_image is None or not bool(has_image.any()):
            return FusionOutput(text_encoder.encode_layers(text_states, attention_mask, self.split))
        has_image = has_image.bool()
        with_img = has_image.nonzero().squeeze(1)
        without = (~has_image).nonzero().squeeze(1)
        tokens = self.visual_proj(visual[with_img]) + self.visual_type  # [n, T, D]
        joint = torch.cat([text_states[with_img], tokens.to(text_states.dtype)], 1)
        joint_mask = torch.cat([attention_mask[with_img].bool(), attention_mask.new_ones(tokens.shape[:2]).bool()], 1)
        # the visual tokens have no position: MPNet's relative bias must not see the text's padding
        joint = text_encoder.encode_layers(joint, joint_mask, self.split, text_length=L)
        text = scatter_rows(joint[:, :L], with_img, B)
        if len(without):
            alone = text_encoder.encode_layers(text_states[without], attention_mask[without], self.split)
            text = text.index_copy(0, without, alone)
        return FusionOutput(text, scatter_rows(joint[:, L:], with_img, B), has_image)
