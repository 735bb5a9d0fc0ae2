from .hf_captioner import HFCaptioner

__all__ = ['HFCaptioner']
