"""Entity and relation vocabularies for the prompt-based pseudo-labels.

Two file formats: the cache's ``entity_vocab.txt`` / ``relation_vocab.txt`` hold one entry a line
(``pmu.structures.read_vocabulary``, what the models read); the vocabularies mined by
``tools/misc/mine_vocabulary.py`` and shipped in ``resources/`` hold ``entry<TAB>count`` a line, so
the figures they were chosen by travel with them (``read_counted_vocabulary`` reads both formats).
"""
import os.path as osp
from collections import Counter
from typing import Iterable, List, Optional, Sequence, Tuple

from pmu.structures.vocabulary import read_vocabulary  # noqa: F401  (re-exported: the file format)

RESOURCES = osp.join(osp.dirname(__file__), 'resources')
PACKAGED_RELATIONS = osp.join(RESOURCES, 'relation_phrases.txt')


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


def resolve_vocabulary_file(path: str) -> str:
    """An existing path as is; else the file of that name shipped in ``pmu/pseudo_labels/resources``
    (``'flickr8k-train_relation_vocab.txt'``), so configs need no path into the installed package."""
    if osp.exists(path):
        return path
    packaged = osp.join(RESOURCES, path)
    if osp.basename(path) == path and osp.exists(packaged):
        return packaged
    raise FileNotFoundError(f"vocabulary file '{path}' not found, neither as a path nor in {RESOURCES}")


def read_counted_vocabulary(path: str) -> List[Tuple[str, Optional[int]]]:
    """``(entry, count)`` of each line ``entry<TAB>count``; ``count`` is None on lines with the entry
    alone. Blank lines and ``#`` comments are skipped; a duplicate entry or a count that is not a
    non-negative integer is an error naming ``file:line``."""
    entries, seen = [], {}
    with open(path, encoding='utf-8') as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip() or line.lstrip().startswith('#'):
                continue
            entry, tab, count = line.rstrip('\r\n').partition('\t')
            entry = entry.strip()
            if tab and not count.strip().isdigit():
                raise ValueError(f'{path}:{lineno}: the count of {entry!r} must be a non-negative integer, '
                                 f'not {count.strip()!r}')
            if entry in seen:
                raise ValueError(f'{path}:{lineno}: duplicate entry {entry!r} (first at line {seen[entry]})')
            seen[entry] = lineno
            entries.append((entry, int(count) if tab else None))
    if not entries:
        raise ValueError(f'{path}: no entries')
    return entries


def build_relation_vocabulary(path: Optional[str] = None, max_size: int = -1) -> List[str]:
    """Relation phrases from ``path`` (default: the list shipped with pmu); a mined, counted file
    (``resolve_vocabulary_file``) works too."""
    entries = [e for e, _ in read_counted_vocabulary(resolve_vocabulary_file(path) if path else PACKAGED_RELATIONS)]
    return entries[:max_size] if max_size > 0 else entries


def read_entity_vocabulary(path: str, max_size: int = -1) -> List[Tuple[str, int]]:
    """A fixed entity vocabulary (``entity_vocab.file`` of a preparation config) with its counts
    (0 where the file has none), cut at ``max_size``."""
    entries = [(e, c or 0) for e, c in read_counted_vocabulary(resolve_vocabulary_file(path))]
    return entries[:max_size] if max_size > 0 else entries


def merge_relation_vocabulary(known: Sequence[str], mined: Sequence[Tuple[str, int]],
                              max_size: int = 1000) -> List[Tuple[str, int]]:
    """``known`` phrases first (pmu's relation names, in their order, so none is lost), then the
    ``mined`` ``(phrase, count)`` not among them, most frequent first, up to ``max_size`` in all.
    A known phrase takes its mined count, 0 when the captions never had it as a verb phrase."""
    counts = dict(mined)
    merged = [(phrase, counts.get(phrase, 0)) for phrase in dict.fromkeys(known)]
    taken = {phrase for phrase, _ in merged}
    room = max(max_size - len(merged), 0) if max_size > 0 else len(mined)
    merged += [(phrase, count) for phrase, count in mined if phrase not in taken][:room]
    return merged


def write_vocabulary(path: str, entries: Iterable[str]) -> None:
    with open(path, 'w', encoding='utf-8') as f:
        for entry in entries:
            f.write(entry.replace('\n', ' ') + '\n')


def write_counted_vocabulary(path: str, entries: Iterable[Tuple[str, int]], header: Sequence[str] = ()) -> None:
    """``entry<TAB>count`` a line after ``#`` header lines (``read_counted_vocabulary`` reads it back)."""
    with open(path, 'w', encoding='utf-8') as f:
        for line in header:
            f.write(f'# {line}\n')
        for entry, count in entries:
            f.write(f"{entry.replace(chr(10), ' ').replace(chr(9), ' ')}\t{count}\n")
