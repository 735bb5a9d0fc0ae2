from .crf_head import CRFTaggingHead

__all__ = ['CRFTaggingHead']
