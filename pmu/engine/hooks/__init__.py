from .curves import CurvePlotHook
from .soft_labels import SoftLabelHook

__all__ = ['CurvePlotHook', 'SoftLabelHook']
