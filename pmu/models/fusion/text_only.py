"""No fusion: the text encoder's states go straight to the head."""
from pmu.registry import MODELS
from .base import BaseFusion, FusionOutput


@MODELS.register_module()
class TextOnlyFusion(BaseFusion):
    """The text-only baseline (BERT-CRF, BERT + markers): images are ignored."""

    def fuse(self, text_encoder, text_states, attention_mask, visual=None, has_image=None) -> FusionOutput:
        return FusionOutput(text_states)
