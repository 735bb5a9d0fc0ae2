from .caption import CaptionVisualTokens
from .text import HFTextEncoder
from .visual import EfficientNetLiteEncoder, HFVisionEncoder

__all__ = ['CaptionVisualTokens', 'EfficientNetLiteEncoder', 'HFTextEncoder', 'HFVisionEncoder']
