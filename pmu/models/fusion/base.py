"""The contract every fusion module follows, and how models build one."""
import inspect
from dataclasses import dataclass
from typing import Optional

import torch
from mmengine.model import BaseModule

from pmu.registry import MODELS


@dataclass
class FusionOutput:
    """What a fusion module returns.

    ``text [B, L, D]``: the fused text states (what the task heads read).
    ``visual [B, T, D]`` or ``None``: the visual tokens after fusion, in the
    text's hidden size (PROMU's object-entity and image-relation alignment pool
    them); rows of samples without an image are zeros. ``has_image [B]`` bool
    or ``None``: which rows of ``visual`` are real.
    """
    text: torch.Tensor
    visual: Optional[torch.Tensor] = None
    has_image: Optional[torch.Tensor] = None


class BaseFusion(BaseModule):
    """Text encoder + visual tokens → fused states, in two steps.

    ``encode_text`` computes the part of the text side that does not depend on
    the image (the whole text encoder for fusions that sit on top of it, the
    lower layers for PROMU's single-stream fusion, the embeddings for HVPNeT's
    prefixes); ``fuse`` does the rest. Pre-training calls them separately to
    fuse one caption with several images (ITM's negatives) without encoding it
    again; ``forward`` does both.

    The text encoder is an argument rather than a sub-module: its parameters
    keep their names (``text_encoder.*``) in every model, so a pre-training
    checkpoint loads into any fusion with the same key map.

    A sample without an image (``has_image`` False, or ``visual=None``) must
    get the states of the text encoder alone: the visual encoder never sees a
    placeholder image, and no visual input reaches its text (its gradient with
    respect to every visual input is zero). The states are bitwise those of
    the text encoder when the batch holds no image; in a mixed batch they may
    differ in the last bits, as the text encoder's own do from one batch shape
    to another (BLAS rounding).
    """

    def encode_text(self, text_encoder, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                    token_type_ids: Optional[torch.Tensor] = None) -> torch.Tensor:
        return text_encoder(input_ids, attention_mask, token_type_ids)

    def fuse(self,
             text_encoder,
             text_states: torch.Tensor,
             attention_mask: torch.Tensor,
             visual: Optional[torch.Tensor] = None,
             has_image: Optional[torch.Tensor] = None) -> FusionOutput:
        raise NotImplementedError

    def forward(self,
                text_encoder,
                input_ids: torch.Tensor,
                attention_mask: torch.Tensor,
                visual: Optional[torch.Tensor] = None,
                has_image: Optional[torch.Tensor] = None,
                token_type_ids: Optional[torch.Tensor] = None) -> FusionOutput:
        """``input_ids/attention_mask [B, L]``, ``visual [B, T, C]`` or ``None``, ``has_image [B]``,
        ``token_type_ids [B, L]`` or ``None`` (the segment of each sub-word: 1 for a caption segment)."""
        states = self.encode_text(text_encoder, input_ids, attention_mask, token_type_ids)
        return self.fuse(text_encoder, states, attention_mask, visual, has_image)


def build_fusion(cfg: dict, text_encoder, visual_encoder=None) -> BaseFusion:
    """Build a fusion module, filling in what it takes from the encoders.

    ``hidden``, ``num_heads`` and ``text_layers`` come from the text encoder,
    ``visual_channels`` from the visual encoder, each only where the module's
    ``__init__`` takes it and the config leaves it out.
    """
    cfg = dict(cfg)
    cls = MODELS.get(cfg['type']) if isinstance(cfg['type'], str) else cfg['type']
    if cls is None:
        raise KeyError(f"fusion type {cfg['type']!r} is not registered in pmu's MODELS")
    params = inspect.signature(cls.__init__).parameters
    derived = dict(hidden=text_encoder.hidden_size)
    if hasattr(text_encoder, 'num_layers'):
        derived.update(text_layers=text_encoder.num_layers, num_heads=text_encoder.num_heads)
    if visual_encoder is not None:
        derived['visual_channels'] = visual_encoder.out_channels
    for key, value in derived.items():
        if key in params and key not in cfg:
            cfg[key] = value
    return MODELS.build(cfg)


def scatter_rows(rows: torch.Tensor, index: torch.Tensor, total: int) -> torch.Tensor:
    """``rows [n, ...]`` placed at ``index [n]`` of a zero tensor ``[total, ...]`` (keeps gradients)."""
    out = rows.new_zeros((total, ) + rows.shape[1:])
    return out.index_copy(0, index, rows)
