"""Counting what sub-word truncation cuts off, so nothing is dropped silently."""
from collections import Counter
from typing import NamedTuple

from pmu.structures import entity_spans


class TruncationCounts(NamedTuple):
    """What :class:`TokenizeWords` does to a dataset.

    ``sentences``: sentences longer than ``max_length`` sub-words (words cut
    off); ``entities``: gold entities that lose a word to it, of ``all_entities``;
    ``empty_words``: words the tokenizer maps to no sub-word (control
    characters, some emoji) and how many ``empty_sentences`` have one; these get
    the tokenizer's unknown token (``unk_empty_words=True``) or are predicted
    ``O``; ``unk_empty_words`` says which.
    """
    sentences: int = 0
    entities: int = 0
    all_entities: int = 0
    empty_words: int = 0
    empty_sentences: int = 0
    unk_empty_words: bool = True


def count_truncated_entities(data_list, pipeline) -> TruncationCounts:
    """The :class:`TruncationCounts` of a dataset.

    Uses the pipeline's :class:`TokenizeWords` (if any), so the count matches
    what training and evaluation see.
    """
    from .transforms import TokenizeWords
    tok = next((t for t in getattr(pipeline, 'transforms', [])
                if isinstance(t, TokenizeWords)), None)
    if tok is None:
        return TruncationCounts()
    n_sent = n_trunc = n_ents = n_empty = n_empty_sent = 0
    for info in data_list:
        enc, empty = tok.encode_words(info['words'])
        n_empty += len(empty)
        n_empty_sent += bool(empty)
        kept = {w for w in enc.word_ids() if w is not None}
        spans = entity_spans(info.get('gt_tags', []))
        n_ents += len(spans)
        # without unk_empty_words, words with no sub-word are absent from word_ids without being cut off
        lost = set(range(len(info['words']))) - kept - (set() if tok.unk_empty_words else set(empty))
        if lost:
            n_sent += 1
            n_trunc += sum(1 for _, s, e in spans if any(i in lost for i in range(s, e)))
    return TruncationCounts(n_sent, n_trunc, n_ents, n_empty, n_empty_sent, tok.unk_empty_words)


def log_truncation(counts: TruncationCounts, logger, name: str) -> None:
    """One warning per kind of loss, with its count (nothing when there is none)."""
    if counts.sentences:
        logger.warning(
            f'{name}: {counts.sentences} sentences exceed the tokenizer max_length; '
            f'{counts.entities} of {counts.all_entities} gold entities lose words to truncation '
            '(those words are predicted O and still scored)')
    if counts.empty_words:
        fate = ('they get the tokenizer\'s unknown token and a prediction (unk_empty_words=True)'
                if counts.unk_empty_words else 'they are predicted O and still scored (unk_empty_words=False)')
        logger.warning(f'{name}: {counts.empty_words} words in {counts.empty_sentences} sentences map to no '
                       f'sub-word; {fate}')


class CaptionCounts(Counter):
    """Samples per caption status; ``budget`` names the sub-word budget a ``'cut'`` caption was cut to,
    ``apart`` whether captions are encoded apart from the post (then none is ever dropped for it)."""
    budget = 'max_length'
    apart = False


def count_caption_segments(data_list, pipeline) -> CaptionCounts:
    """How each sample's caption fares in the pipeline's :class:`TokenizeWords` (``'whole'``,
    ``'cut'``, ``'dropped'``, ``'none'``), after its :class:`InsertEntityMarkers` where it has one, so
    the counts match what training and evaluation see."""
    from .transforms import InsertEntityMarkers, TokenizeWords
    transforms = getattr(pipeline, 'transforms', [])
    tok = next((t for t in transforms if isinstance(t, TokenizeWords)), None)
    marker = next((t for t in transforms if isinstance(t, InsertEntityMarkers)), None)
    counts = CaptionCounts()
    if tok is None:
        return counts
    if tok.caption_segment == 'separate':
        counts.budget = f'caption_max_length={tok.caption_max_length} (encoded apart from the post)'
        counts.apart = True
    for info in data_list:
        words = info['words']
        if marker is not None:
            words = marker(dict(words=words, head=info['head'], tail=info['tail']))['words']
        counts[tok.encode_with_caption(words, info.get('image_caption'))[2]] += 1
    return counts


def log_caption_segments(counts: CaptionCounts, logger, name: str) -> None:
    """One line: captions encoded whole, cut to fit their budget, and, where the caption shares the
    post's sub-words, dropped because the post left no room."""
    with_caption = counts['whole'] + counts['cut'] + counts['dropped']
    if not with_caption:
        return
    line = (f'{name}: caption segment of {with_caption} samples: {counts["whole"]} whole, '
            f'{counts["cut"]} cut to fit {counts.budget}')
    if not counts.apart:
        line += f', {counts["dropped"]} dropped (the post left no room)'
    (logger.warning if counts['cut'] + counts['dropped'] else logger.info)(line)
