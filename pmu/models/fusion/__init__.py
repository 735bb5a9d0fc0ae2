from .promu import CrossModalLayer, PromuFusion, TextOnlyFusion

__all__ = ['CrossModalLayer', 'PromuFusion', 'TextOnlyFusion']
