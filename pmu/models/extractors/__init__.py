from .base import MultimodalExtractor
from .ner import MultimodalNER
from .re import MultimodalRE

__all__ = ['MultimodalExtractor', 'MultimodalNER', 'MultimodalRE']
