from .crf_head import CRFTaggingHead
from .relation_head import RelationClassificationHead

__all__ = ['CRFTaggingHead', 'RelationClassificationHead']
