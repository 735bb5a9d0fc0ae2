"""What MNER and MRE share: encoders, fusion, and loading a pre-training checkpoint."""
from typing import Optional

import torch

from pmu.registry import MODELS
from pmu.utils.checkpoint import load_mapped_checkpoint
from ..base import ThreeModeModel
from ..fusion import build_fusion


class MultimodalTaskModel(ThreeModeModel):
    """Text encoder + (optional) visual encoder + fusion.

    Args:
        text_encoder: e.g. ``HFTextEncoder``.
        fusion: e.g. ``SingleStreamFusion`` (PROMU's), ``CrossAttentionFusion``,
            ``HVPNetFusion``, ``UMTFusion`` or ``TextOnlyFusion``; what it takes
            from the encoders is filled in (:func:`pmu.models.fusion.build_fusion`).
        visual_encoder: ``None`` for a text-only model.
        pretrained: ``dict(checkpoint=..., key_map={...})``: initialise from a
            pmu pre-training checkpoint, with the keys renamed by prefix (see
            :func:`pmu.utils.checkpoint.load_mapped_checkpoint`).
    """

    def __init__(self,
                 text_encoder: dict,
                 fusion: dict,
                 visual_encoder: Optional[dict] = None,
                 pretrained: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg=None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.text_encoder = MODELS.build(text_encoder)
        self.visual_encoder = MODELS.build(visual_encoder) if visual_encoder else None
        self.fusion = build_fusion(fusion, self.text_encoder, self.visual_encoder)
        self.pretrained = pretrained

    @property
    def hidden_size(self) -> int:
        return self.text_encoder.hidden_size

    def init_weights(self):
        super().init_weights()
        if self.pretrained:
            load_mapped_checkpoint(self, **self.pretrained)

    def extract_feat(self, inputs: dict) -> torch.Tensor:
        """Fused sub-word states ``[B, L, D]``."""
        visual = None
        has_image = inputs['has_image']
        if self.visual_encoder is not None and inputs.get('images') is not None:
            feats = self.visual_encoder(inputs['images'])  # [N, T, C], N = has_image.sum()
            visual = feats.new_zeros((len(has_image), ) + feats.shape[1:])
            visual[has_image] = feats
        return self.fusion(self.text_encoder, inputs['input_ids'], inputs['attention_mask'], visual,
                           has_image, inputs.get('token_type_ids')).text
