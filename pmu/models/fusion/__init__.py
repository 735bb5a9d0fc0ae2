from .base import BaseFusion, FusionOutput, build_fusion
from .cross_attention import CrossAttentionFusion, CrossModalLayer
from .single_stream import SingleStreamFusion
from .text_only import TextOnlyFusion

__all__ = ['BaseFusion', 'CrossAttentionFusion', 'CrossModalLayer', 'FusionOutput', 'SingleStreamFusion',
           'TextOnlyFusion', 'build_fusion']
