from .bio import entity_spans
from .data_sample import PMUDataSample

__all__ = ['PMUDataSample', 'entity_spans']
