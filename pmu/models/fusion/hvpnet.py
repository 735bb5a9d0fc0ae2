"""HVPNeT's fusion: hierarchical visual prefixes in every layer of the text encoder."""
import math
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from pmu.registry import MODELS
from .base import BaseFusion, FusionOutput, scatter_rows


@MODELS.register_module()
class HVPNetFusion(BaseFusion):
    """Visual prefix-guided fusion of HVPNeT.

    Chen et al., "Good Visual Guidance Makes A Better Extractor: Hierarchical
    Visual Prefix for Multimodal Entity and Relation Extraction", Findings of
    NAACL 2022 (official code: zjunlp/HVPNeT).

    **Kept.** The image enters the text encoder only as extra keys and values
    of the self-attention of every layer (a prefix that every text token may
    attend to; the text's own keys and values are unchanged). The prefixes come
    from a visual pyramid: the levels' features at each prefix position are
    concatenated and mapped by the original's MLP (``Linear → Tanh → Linear``,
    its ``encoder_conv``, 800 wide) to one ``[key; value]`` candidate per level;
    for each layer ``l`` a gate of its own weighs the candidates,
    ``softmax(leaky_relu(W_l · m))`` with ``m`` the candidates' mean over
    levels, flattened over the prefix positions, and their weighted sum is that
    layer's prefix (the "dynamic gated aggregation" of the hierarchical
    features). The text encoder is BERT's own, pre-trained; only the MLP and
    the gates are new.

    **Simplified.**

    - *Hierarchy.* The original pools the four stages of a ResNet-50 (2 x 2
      each). pmu's visual encoders give one stage (``[N, 1 + h*w, C]``: a
      summary token, then the grid of the last EfficientNet stage or ViT's
      patches), so the levels here are that grid average-pooled to
      ``pool_sizes`` (1 x 1, 2 x 2, 4 x 4: global, quadrants, regions) and laid
      on the finest level's positions (a coarse cell is repeated over the
      positions it covers, as in a feature pyramid). The prefix thus has
      ``max(pool_sizes) ** 2`` tokens (16 by default; the original: 4 for the
      image + 12 for its objects). The summary token is not used (for
      EfficientNet it is the 1 x 1 level).
    - *Objects.* The original adds prefixes from crops of the top 3 objects
      found by a visual grounding model. pmu's MNER/MRE data carry no object
      boxes, so ``use_objects=True`` raises :class:`NotImplementedError`.
    - *Key/value layout.* Split per attention head (``[B, heads, P,
      head_dim]``); the original reshapes ``[B, P, D]`` to that shape without
      a transpose, which mixes positions and heads.

    Samples without an image run the text encoder with no prefix at all, which
    is the text encoder's own forward pass: no visual input reaches them,
    whatever else the batch holds (tested; :class:`BaseFusion` on exactness).

    ``FusionOutput.visual`` is ``None``: the visual side is read by the text,
    never updated, and a projection of it that no loss reads would be
    parameters without gradients. PROMU's alignment losses, which pool fused
    visual tokens, need :class:`SingleStreamFusion`.

    Args:
        hidden: text hidden size (filled in from the text encoder).
        visual_channels: channels of the visual tokens (filled in).
        text_layers: layers of the text encoder, one prefix each (filled in).
        num_heads: attention heads of the text encoder (filled in).
        pool_sizes: the pyramid's levels, as grid sides.
        mid_channels: width of the prefix MLP (the original: 800).
        dropout: on the prefixes' keys and values (the original: none).
        use_objects: object-level prefixes (not supported, see above).
    """

    def __init__(self,
                 hidden: int,
                 visual_channels: int,
                 text_layers: int,
                 num_heads: int,
                 pool_sizes: Sequence[int] = (1, 2, 4),
                 mid_channels: int = 800,
                 dropout: float = 0.0,
                 use_objects: bool = False,
                 init_cfg=None):
        super().__init__(init_cfg)
        if use_objects:
            raise NotImplementedError(
                "HVPNetFusion(use_objects=True): HVPNeT's object-level prefixes need crops of the "
                "top objects of each image, and pmu's MNER/MRE pipelines carry no object boxes at "
                'fine-tuning time (only the pre-training data does). Use use_objects=False (image '
                'prefixes only), or add object crops to the pipeline and to this fusion first.')
        if hidden % num_heads:
            raise ValueError(f'hidden={hidden} is not divisible by num_heads={num_heads}')
        if not pool_sizes or min(pool_sizes) < 1:
            raise ValueError(f'pool_sizes must be positive grid sides, got {pool_sizes!r}')
        self.pool_sizes = tuple(pool_sizes)
        self.prefix_side = max(self.pool_sizes)
        self.prefix_len = self.prefix_side**2
        self.num_heads = num_heads
        self.head_dim = hidden // num_heads
        levels = len(self.pool_sizes)
        # the original's encoder_conv: all levels of a position in, one [key; value] per level out
        self.encoder_conv = nn.Sequential(
            nn.Linear(levels * visual_channels, mid_channels), nn.Tanh(),
            nn.Linear(mid_channels, levels * 2 * hidden))
        self.gates = nn.ModuleList(
            nn.Linear(self.prefix_len * 2 * hidden, levels) for _ in range(text_layers))
        self.dropout = nn.Dropout(dropout)

    def pyramid(self, visual: torch.Tensor) -> torch.Tensor:
        """``[n, 1 + h*w, C]`` tokens → ``[n, P, levels * C]`` pyramid features per prefix position."""
        n, T, C = visual.shape
        side = math.isqrt(T - 1)
        if side * side != T - 1:
            raise ValueError(f'HVPNetFusion expects visual tokens [N, 1 + h*w, C] of a square grid '
                             f'(a summary token, then the grid), got {T} tokens')
        grid = visual[:, 1:].transpose(1, 2).reshape(n, C, side, side)
        levels = [
            F.interpolate(F.adaptive_avg_pool2d(grid, s), size=(self.prefix_side, ) * 2, mode='nearest')
            for s in self.pool_sizes
        ]  # levels x [n, C, p, p]
        return torch.cat(levels, 1).flatten(2).transpose(1, 2)

    def visual_prefixes(self, visual: torch.Tensor) -> List[Tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """``[n, T, C]`` → per text layer ``(key, value [n, heads, P, head_dim], mask [n, P])``."""
        n = visual.shape[0]
        levels = len(self.pool_sizes)
        candidates = self.encoder_conv(self.pyramid(visual))  # [n, P, levels * 2D]
        candidates = torch.stack(candidates.chunk(levels, -1), 1)  # [n, levels, P, 2D]
        gate_input = candidates.mean(1).flatten(1)  # [n, P * 2D]
        mask = torch.ones(n, self.prefix_len, dtype=torch.bool, device=visual.device)
        prefixes = []
        for gate in self.gates:
            weights = F.softmax(F.leaky_relu(gate(gate_input)), dim=-1)  # [n, levels]
            key_value = self.dropout(torch.einsum('nl,nlpd->npd', weights, candidates))  # [n, P, 2D]
            key_value = key_value.view(n, self.prefix_len, 2, self.num_heads, self.head_dim)
            key, value = key_value.permute(2, 0, 3, 1, 4)  # 2 x [n, heads, P, head_dim]
            prefixes.append((key, value, mask))
        return prefixes

    def encode_text(self, text_encoder, input_ids, attention_mask, token_type_ids=None):
        # the prefixes enter from the first layer on: only the embeddings are image-independent
        return text_encoder.embed(input_ids, token_type_ids)

    def fuse(self, text_encoder, text_states, attention_mask, visual=None, has_image=None) -> FusionOutput:
        B = text_states.shape[0]
        if visual is None or has_image is None or not bool(has_image.any()):
            return FusionOutput(text_encoder.encode_layers(text_states, attention_mask), None, has_image)
        has_image = has_image.bool()
        with_img = has_image.nonzero().squeeze(1)
        without = (~has_image).nonzero().squeeze(1)
        prefixes = self.visual_prefixes(visual[with_img])
        fused = text_encoder.encode_layers(text_states[with_img], attention_mask[with_img], prefixes=prefixes)
        text = scatter_rows(fused, with_img, B)
        if len(without):
            # no prefix, not a masked one: the very computation of the text encoder alone
            alone = text_encoder.encode_layers(text_states[without], attention_mask[without])
            text = text.index_copy(0, without, alone)
        return FusionOutput(text, None, has_image)
