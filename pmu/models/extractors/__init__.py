from .base import MultimodalExtractor
from .ner import MultimodalNER

__all__ = ['MultimodalExtractor', 'MultimodalNER']
from .re import MultimodalRE  # noqa: E402,F401
