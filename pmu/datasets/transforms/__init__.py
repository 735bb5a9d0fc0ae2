from .augment import (RandAugmentPhotometric, RandomFlipWithBoxes, RandomResizedCropWithBoxes,
                      ResizeWithBoxes)
from .formatting import PackMultimodalInputs
from .loading import LoadImage
from .markers import ENTITY_MARKERS, InsertEntityMarkers, insert_markers
from .tokenization import TokenizeWords, first_subword_index

__all__ = [
    'ENTITY_MARKERS', 'InsertEntityMarkers', 'LoadImage', 'PackMultimodalInputs',
    'RandAugmentPhotometric', 'RandomFlipWithBoxes', 'RandomResizedCropWithBoxes', 'ResizeWithBoxes',
    'TokenizeWords', 'first_subword_index', 'insert_markers'
]
