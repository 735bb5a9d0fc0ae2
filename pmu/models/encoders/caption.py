"""A post's image caption as the visual tokens of a fusion: the visual side read from text."""
import torch
import torch.nn.functional as F
from mmengine.model import BaseModule

from pmu.registry import MODELS


@MODELS.register_module()
class CaptionVisualTokens(BaseModule):
    """The caption of a post's image, encoded by the text encoder, as the visual tokens a fusion reads.

    With no image offline but a caption that a captioner wrote from the real
    image, this module stands where the visual encoder stands: every fusion
    (PROMU's single-stream, HVPNeT's prefixes, UMT's interaction,
    cross-attention) gets the caption on its visual side and fuses it its own
    way, so fusion designs differ where a caption exists. (A caption as the
    second *text* segment, ``[CLS] post [SEP] caption [SEP]``, reaches every
    fusion the same way: through the text encoder.)

    The caption is encoded alone (``[CLS] caption [SEP]``) by the model's own
    text encoder (shared weights, trained with the rest), and its sub-word
    states are laid out as a visual encoder's output ``[N, 1 + g*g, D]``: a
    summary token (the mean of the caption's states), then ``g*g`` tokens,
    the caption's states average-pooled along the sequence to ``g*g``
    positions (a caption shorter than that repeats states). The fixed layout
    is what the fusions take (HVPNeT pools a square grid; none takes a mask
    over visual tokens). The "grid" of a caption has no spatial meaning:
    HVPNeT's pyramid levels become the whole caption, its halves or quarters,
    and its finest 4 x 4 level, in reading order.

    A post without a caption has no visual side, as a post without an image
    has none: the fusion runs its text alone.

    Args:
        hidden: the text encoder's hidden size (filled in by the task model);
            also the channels of the tokens (``out_channels``).
        grid: side of the token grid (``grid ** 2`` caption tokens after the summary).
    """

    def __init__(self, hidden: int, grid: int = 4, init_cfg=None):
        super().__init__(init_cfg)
        if grid < 1:
            raise ValueError(f'CaptionVisualTokens: grid must be >= 1, got {grid}')
        self.grid = grid
        self.out_channels = hidden

    def forward(self, text_encoder, caption_ids: torch.Tensor, caption_mask: torch.Tensor) -> torch.Tensor:
        """``caption_ids, caption_mask [N, Lc]`` (the captions of the N posts that have one) → ``[N, 1 + g*g, D]``."""
        states = text_encoder(caption_ids, caption_mask)  # [N, Lc, D]
        mask = caption_mask.to(states.dtype)[..., None]
        summary = (states * mask).sum(1) / mask.sum(1).clamp(min=1)
        lengths = caption_mask.sum(1).tolist()
        tokens = torch.stack([
            F.adaptive_avg_pool1d(s[:n].t()[None], self.grid**2)[0].t() for s, n in zip(states, lengths)])
        return torch.cat([summary[:, None], tokens], 1)

    def extra_repr(self) -> str:
        return f'grid={self.grid}, out_channels={self.out_channels}'
