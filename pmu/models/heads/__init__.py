from .crf_head import CRFTaggingHead

__all__ = ['CRFTaggingHead']
from .relation_head import RelationClassificationHead  # noqa: E402,F401
