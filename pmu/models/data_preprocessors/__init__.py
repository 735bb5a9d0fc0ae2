from .multimodal import MultimodalDataPreprocessor

__all__ = ['MultimodalDataPreprocessor']
