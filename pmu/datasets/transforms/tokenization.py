"""Sub-word tokenisation with word alignment, by the encoder's fast tokenizer."""
from typing import List, Optional, Sequence

from pmu.registry import TRANSFORMS
from pmu.utils import build_tokenizer


def first_subword_index(word_ids: Sequence[Optional[int]], num_words: int) -> List[int]:
    """Position of each word's first sub-word; ``-1`` for a word cut off by truncation."""
    first = [-1] * num_words
    for pos, w in enumerate(word_ids):
        if w is not None and first[w] < 0:
            first[w] = pos
    return first


@TRANSFORMS.register_module()
class TokenizeWords:
    """Tokenise ``results['words']`` into sub-words, keeping word alignment.

    Adds ``input_ids`` and ``word_ids`` (index of each word's first sub-word,
    ``-1`` where truncation dropped the word). Labels live on first sub-words;
    the model scores truncated words as ``O`` so they stay in evaluation.

    Args:
        tokenizer: hub name, local folder or ``pkg:`` path of the encoder.
        max_length: sub-words per sample, special tokens included.
        extra_special_tokens: tokens added to the vocabulary (e.g. MRE markers).
    """

    def __init__(self,
                 tokenizer: str,
                 max_length: int = 128,
                 extra_special_tokens: Optional[Sequence[str]] = None):
        self.tokenizer_name = tokenizer
        self.max_length = max_length
        self.extra_special_tokens = tuple(extra_special_tokens or ())

    @property
    def tokenizer(self):
        return build_tokenizer(self.tokenizer_name, self.extra_special_tokens)

    def encode(self, words: Sequence[str]):
        return self.tokenizer(
            list(words),
            is_split_into_words=True,
            truncation=True,
            max_length=self.max_length)

    def __call__(self, results: dict) -> dict:
        enc = self.encode(results['words'])
        results['input_ids'] = enc['input_ids']
        results['word_ids'] = first_subword_index(enc.word_ids(), len(results['words']))
        return results

    def __repr__(self):
        return (f'{type(self).__name__}(tokenizer={self.tokenizer_name!r}, '
                f'max_length={self.max_length})')
