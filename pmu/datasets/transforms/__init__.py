from .formatting import PackMultimodalInputs
from .loading import LoadImage
from .tokenization import TokenizeWords, first_subword_index

__all__ = ['LoadImage', 'PackMultimodalInputs', 'TokenizeWords', 'first_subword_index']
