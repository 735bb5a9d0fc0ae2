"""Task models: the MNER and MRE models that are fine-tuned and evaluated (encoders, fusion, task head),
as opposed to the pre-training models in ``pretrainers/``."""
from .base import MultimodalTaskModel
from .ner import MultimodalNER
from .re import MultimodalRE

__all__ = ['MultimodalTaskModel', 'MultimodalNER', 'MultimodalRE']
