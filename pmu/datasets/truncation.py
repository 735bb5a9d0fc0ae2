"""Counting what sub-word truncation cuts off, so nothing is dropped silently."""
from typing import Tuple

from pmu.structures import entity_spans


def count_truncated_entities(data_list, pipeline) -> Tuple[int, int, int]:
    """``(truncated sentences, truncated entities, all entities)`` for a dataset.

    Uses the pipeline's :class:`TokenizeWords` (if any), so the count matches
    what training and evaluation see.
    """
    from .transforms import TokenizeWords
    tok = next((t for t in getattr(pipeline, 'transforms', [])
                if isinstance(t, TokenizeWords)), None)
    n_sent = n_trunc = n_ents = 0
    if tok is None:
        return n_sent, n_trunc, n_ents
    for info in data_list:
        enc = tok.encode(info['words'])
        kept = {w for w in enc.word_ids() if w is not None}
        spans = entity_spans(info.get('gt_tags', []))
        n_ents += len(spans)
        if len(kept) < len(info['words']):
            n_sent += 1
            n_trunc += sum(1 for _, s, e in spans if any(i not in kept for i in range(s, e)))
    return n_sent, n_trunc, n_ents
