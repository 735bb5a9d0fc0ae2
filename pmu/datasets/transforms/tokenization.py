"""Sub-word tokenisation with word alignment, by the encoder's fast tokenizer."""
from typing import List, Optional, Sequence, Tuple

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

    A word the tokenizer maps to no sub-word at all (a control character, a
    zero-width joiner, some emoji: the tokenizer's normaliser removes them) is
    given the tokenizer's unknown token instead, so it has a position and gets
    a prediction; the dataset counts such words in its log.

    Args:
        tokenizer: hub name, local folder or ``pkg:`` path of the encoder.
        max_length: sub-words per sample, special tokens included.
        extra_special_tokens: tokens added to the vocabulary (e.g. MRE markers).
        unk_empty_words: give words with no sub-word the unknown token
            (default); ``False`` leaves them out of the input (``word_ids``
            ``-1``, predicted ``O`` and still scored).
    """

    def __init__(self,
                 tokenizer: str,
                 max_length: int = 128,
                 extra_special_tokens: Optional[Sequence[str]] = None,
                 unk_empty_words: bool = True):
        self.tokenizer_name = tokenizer
        self.max_length = max_length
        self.extra_special_tokens = tuple(extra_special_tokens or ())
        self.unk_empty_words = unk_empty_words

    @property
    def tokenizer(self):
        return build_tokenizer(self.tokenizer_name, self.extra_special_tokens)

    def encode_words(self, words: Sequence[str]) -> Tuple[object, List[int]]:
        """``(encoding, indices of the words that map to no sub-word)``; with ``unk_empty_words`` the
        encoding has the unknown token in their place."""
        tok, words = self.tokenizer, list(words)
        full = tok(words, is_split_into_words=True, truncation=False)
        present = set(full.word_ids())
        empty = [i for i in range(len(words)) if i not in present]
        if empty and self.unk_empty_words and tok.unk_token is not None:
            for i in empty:
                words[i] = tok.unk_token
        elif len(full['input_ids']) <= self.max_length:
            return full, empty
        return tok(words, is_split_into_words=True, truncation=True, max_length=self.max_length), empty

    def subword_counts(self, words: Sequence[str]) -> List[int]:
        """Sub-words of each word as this transform gives them, special tokens and truncation aside
        (a word with no sub-word counts 1 when it gets the unknown token): the costs to size word
        windows with."""
        tok = self.tokenizer
        enc = tok(list(words), is_split_into_words=True, add_special_tokens=False, verbose=False)
        counts = [0] * len(words)
        for w in enc.word_ids():
            counts[w] += 1
        if self.unk_empty_words and tok.unk_token is not None:
            counts = [c or 1 for c in counts]
        return counts

    def encode(self, words: Sequence[str]):
        return self.encode_words(words)[0]

    def __call__(self, results: dict) -> dict:
        enc = self.encode(results['words'])
        results['input_ids'] = enc['input_ids']
        results['word_ids'] = first_subword_index(enc.word_ids(), len(results['words']))
        return results

    def __repr__(self):
        return (f'{type(self).__name__}(tokenizer={self.tokenizer_name!r}, '
                f'max_length={self.max_length}, unk_empty_words={self.unk_empty_words})')
