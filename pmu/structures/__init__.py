from .data_sample import PMUDataSample

__all__ = ['PMUDataSample']
