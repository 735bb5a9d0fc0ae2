from .curves import CurvePlotHook

__all__ = ['CurvePlotHook']
