from .formatting import PackMultimodalInputs
from .loading import LoadImage
from .tokenization import TokenizeWords, first_subword_index

__all__ = ['LoadImage', 'PackMultimodalInputs', 'TokenizeWords', 'first_subword_index']
from .markers import ENTITY_MARKERS, InsertEntityMarkers, insert_markers  # noqa: E402,F401
from .augment import (RandAugmentPhotometric, RandomFlipWithBoxes, RandomResizedCropWithBoxes,  # noqa: E402,F401
                      ResizeWithBoxes)
