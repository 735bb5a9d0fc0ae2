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
        caption_encoder: the image's caption on the fusion's visual side, in
            place of a visual encoder, e.g. ``dict(type='CaptionVisualTokens')``
            (:class:`~pmu.models.encoders.CaptionVisualTokens`; its ``hidden``
            is filled in). The fusion then fuses the post with its caption,
            and a post without a caption runs its text alone. The pipeline
            encodes the caption apart from the post (config completion sets
            ``TokenizeWords(caption_segment='separate')``).
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
                 caption_encoder: Optional[dict] = None,
                 init_cfg=None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if visual_encoder and caption_encoder:
            raise ValueError('a model takes one visual side: set visual_encoder (the image) or caption_encoder '
                             '(the caption in its place), not both')
        self.text_encoder = MODELS.build(text_encoder)
        self.visual_encoder = MODELS.build(visual_encoder) if visual_encoder else None
        self.caption_encoder = None
        if caption_encoder:
            caption_encoder = dict(caption_encoder)
            caption_encoder.setdefault('hidden', self.text_encoder.hidden_size)
            self.caption_encoder = MODELS.build(caption_encoder)
        self.fusion = build_fusion(fusion, self.text_encoder, self.visual_encoder or self.caption_encoder)
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
        feats, has_visual = None, inputs['has_image']
        if self.caption_encoder is not None:  # the caption on the visual side: the posts that have one
            has_visual = inputs.get('has_caption', torch.zeros_like(has_visual))
            if inputs.get('caption_ids') is not None:
                feats = self.caption_encoder(self.text_encoder, inputs['caption_ids'], inputs['caption_mask'])
        elif self.visual_encoder is not None and inputs.get('images') is not None:
            feats = self.visual_encoder(inputs['images'])  # [N, T, C], N = has_image.sum()
        visual = None
        if feats is not None:
            visual = feats.new_zeros((len(has_visual), ) + feats.shape[1:])
            visual[has_visual] = feats
        return self.fusion(self.text_encoder, inputs['input_ids'], inputs['attention_mask'], visual,
                           has_visual, inputs.get('token_type_ids')).text
