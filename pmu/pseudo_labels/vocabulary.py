"""Entity and relation vocabularies for the prompt-based pseudo-labels."""
import os.path as osp
from collections import Counter
from typing import Iterable, List, Optional, Tuple

from pmu.structures.vocabulary import read_vocabulary  # noqa: F401  (re-exported: the file format)

PACKAGED_RELATIONS = osp.join(osp.dirname(__file__), 'resources', 'relation_phrases.txt')


def build_entity_vocabulary(candidates_per_caption: Iterable[Iterable[str]],
                            max_size: int = 1000, min_count: int = 1) -> List[Tuple[str, int]]:
    """The ``max_size`` most frequent normalised candidates, with their counts.

    A candidate counts once per caption it appears in (caption frequency), so a
    phrase repeated inside one caption does not outrank common ones. Ties are
    broken alphabetically, so the vocabulary does not depend on input order.
    """
    counts = Counter()
    for norms in candidates_per_caption:
        counts.update(set(norms))
    ranked = sorted((item for item in counts.items() if item[1] >= min_count), key=lambda kv: (-kv[1], kv[0]))
    return ranked[:max_size] if max_size > 0 else ranked


def build_relation_vocabulary(path: Optional[str] = None, max_size: int = -1) -> List[str]:
    """Relation phrases from ``path`` (default: the list shipped with pmu)."""
    entries = read_vocabulary(path or PACKAGED_RELATIONS)
    return entries[:max_size] if max_size > 0 else entries


def write_vocabulary(path: str, entries: Iterable[str]) -> None:
    with open(path, 'w', encoding='utf-8') as f:
        for entry in entries:
            f.write(entry.replace('\n', ' ') + '\n')
