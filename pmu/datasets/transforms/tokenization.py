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


# What happened to a sample's caption segment (``results['caption_status']``).
CAPTION_NONE, CAPTION_WHOLE, CAPTION_CUT, CAPTION_DROPPED = 'none', 'whole', 'cut', 'dropped'


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

    **Captions.** When ``results['image_caption']`` is a non-empty string (a dataset
    with a caption source sets it, :mod:`pmu.datasets.captions`) and
    ``use_caption`` is on, the caption is the tokenizer's second segment, in
    its own pair encoding (BERT: ``[CLS] post [SEP] caption [SEP]`` with
    ``token_type_ids`` 1 on the caption; MPNet: ``<s> post </s></s> caption
    </s>``). ``word_ids`` point into the post only, so tags, the CRF and entity
    markers never see the caption. The post comes first: the caption is cut
    to the sub-words the post leaves free, and dropped when the post leaves
    none (``caption_status``: ``'whole'``, ``'cut'``, ``'dropped'``, or
    ``'none'`` without a caption; the dataset counts them).

    With ``caption_segment='separate'`` the post is encoded alone and the
    caption on its own (``[CLS] caption [SEP]``, at most
    ``caption_max_length`` sub-words, ``caption_status`` ``'cut'`` beyond) as
    ``caption_ids``: the input of a model that reads the caption on its
    visual side (:class:`~pmu.models.encoders.CaptionVisualTokens`; pmu's
    config completion sets this mode for such a model).

    Args:
        tokenizer: hub name, local folder or ``pkg:`` path of the encoder.
        max_length: sub-words per sample, special tokens included.
        extra_special_tokens: tokens added to the vocabulary (e.g. MRE markers).
        unk_empty_words: give words with no sub-word the unknown token
            (default); ``False`` leaves them out of the input (``word_ids``
            ``-1``, predicted ``O`` and still scored).
        use_caption: encode ``results['image_caption']`` when there is one (default).
        caption_segment: ``'pair'`` (the second segment of the post's
            encoding, default) or ``'separate'`` (``caption_ids``, see above).
        caption_max_length: sub-words of a separate caption, special tokens included.
    """

    def __init__(self,
                 tokenizer: str,
                 max_length: int = 128,
                 extra_special_tokens: Optional[Sequence[str]] = None,
                 unk_empty_words: bool = True,
                 use_caption: bool = True,
                 caption_segment: str = 'pair',
                 caption_max_length: int = 64):
        if caption_segment not in ('pair', 'separate'):
            raise ValueError(f"TokenizeWords: caption_segment must be 'pair' or 'separate', got {caption_segment!r}")
        self.tokenizer_name = tokenizer
        self.max_length = max_length
        self.extra_special_tokens = tuple(extra_special_tokens or ())
        self.unk_empty_words = unk_empty_words
        self.use_caption = use_caption
        self.caption_segment = caption_segment
        self.caption_max_length = caption_max_length

    @property
    def tokenizer(self):
        return build_tokenizer(self.tokenizer_name, self.extra_special_tokens)

    def _post_words(self, words: Sequence[str]):
        """``(encoding of the words as given, without truncation; the words to encode; indices of the words
        with no sub-word; whether those got the unknown token)``."""
        tok, words = self.tokenizer, list(words)
        full = tok(words, is_split_into_words=True, truncation=False)
        present = set(full.word_ids())
        empty = [i for i in range(len(words)) if i not in present]
        replaced = bool(empty) and self.unk_empty_words and tok.unk_token is not None
        for i in empty if replaced else ():
            words[i] = tok.unk_token
        return full, words, empty, replaced

    def _fit(self, full, words: List[str], replaced: bool):
        """The post's encoding within ``max_length``: ``full`` itself when it fits and no word was replaced."""
        if not replaced and len(full['input_ids']) <= self.max_length:
            return full
        return self.tokenizer(words, is_split_into_words=True, truncation=True, max_length=self.max_length)

    def encode_words(self, words: Sequence[str]) -> Tuple[object, List[int]]:
        """``(encoding, indices of the words that map to no sub-word)``; with ``unk_empty_words`` the
        encoding has the unknown token in their place."""
        full, words, empty, replaced = self._post_words(words)
        return self._fit(full, words, replaced), empty

    def _caption_words(self, caption: Optional[str]) -> List[str]:
        return caption.split() if (self.use_caption and isinstance(caption, str)) else []

    def encode_with_caption(self, words: Sequence[str], caption: Optional[str]):
        """``(encoding, words with no sub-word, caption status)``: the post, then the caption in
        the sub-words the post leaves free (see the class docstring)."""
        caption_words = self._caption_words(caption)
        if not caption_words:
            return (*self.encode_words(words), CAPTION_NONE)
        if self.caption_segment == 'separate':
            return (*self.encode_words(words), self.encode_caption(caption_words)[1])
        from transformers import BatchEncoding
        tok = self.tokenizer
        full, post, empty, replaced = self._post_words(words)
        # each word with no sub-word becomes one unknown token when replaced
        post_len = len(full['input_ids']) + (len(empty) if replaced else 0) - tok.num_special_tokens_to_add(False)
        room = self.max_length - post_len - tok.num_special_tokens_to_add(True)
        if room <= 0:
            return self._fit(full, post, replaced), empty, CAPTION_DROPPED
        enc = tok(post, caption_words, is_split_into_words=True, truncation='only_second',
                  max_length=self.max_length, return_overflowing_tokens=True)
        # one pass: a fast tokenizer puts what it cut off the caption into further windows, each with
        # the whole post; the first window is the sample
        first = BatchEncoding({k: v[0] for k, v in enc.items() if k != 'overflow_to_sample_mapping'},
                              encoding=enc.encodings[0])
        return first, empty, CAPTION_CUT if len(enc.encodings) > 1 else CAPTION_WHOLE

    def encode_caption(self, caption_words: Sequence[str]) -> Tuple[List[int], str]:
        """``(sub-word ids, status)`` of a caption encoded alone, within ``caption_max_length``: one pass
        of the tokenizer, whose overflow says whether it cut."""
        enc = self.tokenizer(list(caption_words), is_split_into_words=True, truncation=True,
                             max_length=self.caption_max_length, return_overflowing_tokens=True)
        # a fast tokenizer splits an over-long input into several windows; the first is the caption kept
        windows = enc['input_ids']
        return list(windows[0]), (CAPTION_CUT if len(windows) > 1 else CAPTION_WHOLE)

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
        caption_ids = None
        if self.caption_segment == 'separate':
            enc = self.encode_words(results['words'])[0]
            caption_words = self._caption_words(results.get('image_caption'))
            caption_ids, status = self.encode_caption(caption_words) if caption_words else (None, CAPTION_NONE)
        else:
            enc, _, status = self.encode_with_caption(results['words'], results.get('image_caption'))
        # the post is segment 0; a caption's sub-words have no word of the post
        sequence = enc.sequence_ids()
        word_ids = [w if s == 0 else None for w, s in zip(enc.word_ids(), sequence)]
        results['input_ids'] = enc['input_ids']
        results['word_ids'] = first_subword_index(word_ids, len(results['words']))
        results['caption_status'] = status
        if caption_ids is not None:
            results['caption_ids'] = caption_ids
        else:
            results.pop('caption_ids', None)
        if self.caption_segment == 'pair' and status in (CAPTION_WHOLE, CAPTION_CUT) \
                and 'token_type_ids' in self.tokenizer.model_input_names:
            results['token_type_ids'] = enc['token_type_ids']
        else:
            results.pop('token_type_ids', None)
        return results

    def __repr__(self):
        return (f'{type(self).__name__}(tokenizer={self.tokenizer_name!r}, '
                f'max_length={self.max_length}, unk_empty_words={self.unk_empty_words}, '
                f'use_caption={self.use_caption}, caption_segment={self.caption_segment!r})')
