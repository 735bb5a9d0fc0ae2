from .alignment import SoftLabelAlignmentLoss
from .contrastive import ImageTextContrastiveLoss, gather_features
from .matching import ImageTextMatchingLoss, sample_hard_negatives

__all__ = ['ImageTextContrastiveLoss', 'ImageTextMatchingLoss', 'SoftLabelAlignmentLoss', 'gather_features',
           'sample_hard_negatives']
