from .alignment_head import SoftAlignmentHead
from .crf_head import CRFTaggingHead
from .itm_head import ITMHead
from .relation_head import RelationClassificationHead

__all__ = ['CRFTaggingHead', 'RelationClassificationHead']
__all__ += ['ITMHead', 'SoftAlignmentHead']
