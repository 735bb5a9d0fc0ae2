from .text import HFTextEncoder
from .visual import EfficientNetLiteEncoder, HFVisionEncoder

__all__ = ['EfficientNetLiteEncoder', 'HFTextEncoder', 'HFVisionEncoder']
