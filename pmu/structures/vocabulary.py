"""Vocabulary files (entities, relations): one entry a line."""
from typing import List


def read_vocabulary(path: str) -> List[str]:
    """One entry a line; blank lines and lines starting with ``#`` are skipped; duplicates are an error."""
    entries, seen = [], {}
    with open(path, encoding='utf-8') as f:
        for lineno, line in enumerate(f, 1):
            entry = line.strip()
            if not entry or entry.startswith('#'):
                continue
            if entry in seen:
                raise ValueError(f'{path}:{lineno}: duplicate entry {entry!r} (first at line {seen[entry]})')
            seen[entry] = lineno
            entries.append(entry)
    if not entries:
        raise ValueError(f'{path}: no entries')
    return entries
