from .alignment import HardCrossEntropyLoss, KLDivergenceLoss, SoftCrossEntropyLoss
from .contrastive import ImageTextContrastiveLoss, gather_features
from .matching import ImageTextMatchingLoss, sample_hard_negatives

__all__ = ['HardCrossEntropyLoss', 'ImageTextContrastiveLoss', 'ImageTextMatchingLoss', 'KLDivergenceLoss',
           'SoftCrossEntropyLoss', 'gather_features', 'sample_hard_negatives']
