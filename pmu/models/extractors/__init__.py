from .base import MultimodalExtractor
from .ner import MultimodalNER

__all__ = ['MultimodalExtractor', 'MultimodalNER']
