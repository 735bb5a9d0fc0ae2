from .base import BaseFusion, FusionOutput, build_fusion
from .cross_attention import CrossAttentionFusion, CrossModalLayer
from .hvpnet import HVPNetFusion
from .single_stream import SingleStreamFusion
from .text_only import TextOnlyFusion
from .umt import CrossModalTransformerLayer, UMTFusion

__all__ = ['BaseFusion', 'CrossAttentionFusion', 'CrossModalLayer', 'CrossModalTransformerLayer', 'FusionOutput',
           'HVPNetFusion', 'SingleStreamFusion', 'TextOnlyFusion', 'UMTFusion', 'build_fusion']
