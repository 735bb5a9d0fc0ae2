"""BIO tag sequences ↔ entity spans, shared by datasets, metrics and inference."""
from typing import List, Sequence, Tuple

from seqeval.scheme import IOB2, Entities


def entity_spans(tags: Sequence[str]) -> List[Tuple[str, int, int]]:
    """Strict IOB2 entities as ``(type, start, end)`` word spans, end exclusive."""
    ents = Entities([list(tags)], IOB2, suffix=False).entities[0]
    return [(e.tag, e.start, e.end) for e in ents]
