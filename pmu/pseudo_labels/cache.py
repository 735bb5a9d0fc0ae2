"""The pseudo-label cache on disk: per-process part files, done markers, the merge, reading it back.

Layout of a work dir (docs/pseudo_labels.md, "The cache"):

- ``pairs.part-R-of-W.jsonl`` / ``skipped.part-R-of-W.jsonl``: what process R
  of W prepared (``PairRecord`` lines) and skipped (``SkippedPair`` lines),
  appended one whole batch at a time and fsync'ed;
- ``part-R-of-W.done``: written (atomically) when process R finished its shard;
- ``pairs.jsonl`` / ``skipped.jsonl``: the parts merged in corpus order.

Whole files (merged cache, markers, summary) are written to a temporary file,
fsync'ed and renamed over the target, so a reader sees the old or the new file,
never half of one.
"""
import contextlib
import glob
import json
import os
import os.path as osp
import time
from dataclasses import dataclass
from typing import Callable, Dict, Iterator, List, Optional, TypeVar

from pmu.structures import PairRecord, PairRecordError, read_pair_records

PAIRS_FILE = 'pairs.jsonl'
SKIPPED_FILE = 'skipped.jsonl'
PART_PATTERN = 'pairs.part-*-of-*.jsonl'
SKIPPED_PART_PATTERN = 'skipped.part-*.jsonl'

R = TypeVar('R')


class ShardTimeoutError(TimeoutError):
    """Rank 0 gave up waiting for other shards' done markers."""


@dataclass(frozen=True)
class SkippedPair:
    """A line of ``skipped.jsonl``: a pair that was not used, and why (``reason`` is e.g. ``image_missing``)."""
    id: str
    image: str
    reason: str
    detail: str

    @classmethod
    def from_dict(cls, d: dict, where: str = 'skipped record') -> 'SkippedPair':
        if not isinstance(d, dict):
            raise PairRecordError(f'{where}: expected a JSON object, not {type(d).__name__}')
        for key in ('id', 'image', 'reason', 'detail'):
            if key not in d:
                raise PairRecordError(f'{where}: missing key {key!r}')
            if not isinstance(d[key], str):
                raise PairRecordError(f'{where}: {key!r} must be a string, not {d[key]!r}')
        return cls(d['id'], d['image'], d['reason'], d['detail'])

    def to_json(self) -> str:
        return json.dumps(dict(id=self.id, image=self.image, reason=self.reason, detail=self.detail),
                          ensure_ascii=False)


@dataclass(frozen=True)
class ShardFiles:
    """The files of process ``rank`` of ``world`` in ``work_dir``."""
    work_dir: str
    rank: int
    world: int

    @property
    def tag(self) -> str:
        return f'part-{self.rank}-of-{self.world}'

    @property
    def pairs(self) -> str:
        return osp.join(self.work_dir, f'pairs.{self.tag}.jsonl')

    @property
    def skipped(self) -> str:
        return osp.join(self.work_dir, f'skipped.{self.tag}.jsonl')

    @property
    def done(self) -> str:
        return osp.join(self.work_dir, f'{self.tag}.done')


# ---------------------------------------------------------------------------------------------- writing

@contextlib.contextmanager
def atomic_open(path: str, mode: str = 'w'):
    """Write ``path`` through ``path.tmp``: flushed, fsync'ed, then renamed over ``path``."""
    tmp = path + '.tmp'
    kwargs = {} if 'b' in mode else dict(encoding='utf-8')
    try:
        with open(tmp, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def write_json(path: str, obj, **dump_kwargs) -> None:
    with atomic_open(path) as f:
        json.dump(obj, f, ensure_ascii=False, **dump_kwargs)


def write_lines(path: str, lines) -> None:
    """One line per item (``str`` without newline) of ``lines``, atomically."""
    with atomic_open(path) as f:
        for line in lines:
            f.write(line + '\n')


class PartWriter:
    """Appends whole batches of records to a part file, on disk before the next batch starts,
    so a kill loses at most the batch in flight."""

    def __init__(self, path: str):
        self.path = path
        self.f = open(path, 'a', encoding='utf-8')

    def write(self, records) -> None:
        """``records``: objects with ``to_json()`` (``PairRecord``, ``SkippedPair``)."""
        if records:
            self.f.write(''.join(r.to_json() + '\n' for r in records))
            self.f.flush()
            os.fsync(self.f.fileno())

    def close(self) -> None:
        self.f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def write_done(files: ShardFiles, info: dict) -> None:
    write_json(files.done, info)


def remove_done(files: ShardFiles) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(files.done)


# ---------------------------------------------------------------------------------------------- reading

def read_part(path: str, from_dict: Callable[[dict, str], R], repair: bool = False) -> List[R]:
    """The records of a part file, each built by ``from_dict(d, 'file:line')``.

    A kill can cut the last line short (no newline, or half a JSON object):
    with ``repair`` (this process's own part) the file is truncated back to its
    last complete line; another process's part may be mid-write, so its
    incomplete tail is just ignored. A bad line anywhere else, or a complete
    line that breaks the schema, is corruption: ``PairRecordError`` naming
    ``file:line``.
    """
    records, good_end = [], 0
    with open(path, 'rb') as f:
        lines = f.readlines()
    for line_no, raw in enumerate(lines, 1):
        where = f'{path}:{line_no}'
        try:
            if not raw.endswith(b'\n'):
                raise ValueError('no newline at the end')
            d = json.loads(raw)
        except ValueError as e:
            if line_no != len(lines):
                raise PairRecordError(f'{where}: corrupt cache line ({e}); remove the file to redo its '
                                      'pairs') from e
            if repair:
                with open(path, 'r+b') as f:
                    f.truncate(good_end)
            break
        try:
            records.append(from_dict(d, where))
        except PairRecordError as e:
            raise PairRecordError(f'{e}; remove the file to redo its pairs') from e
        good_end += len(raw)
    return records


def part_files(work_dir: str) -> List[str]:
    """Every pairs and skipped part in ``work_dir``, of any world size."""
    return sorted(glob.glob(osp.join(work_dir, PART_PATTERN))) + sorted(
        glob.glob(osp.join(work_dir, SKIPPED_PART_PATTERN)))


def finished_ids(paths: List[str], own: tuple = ()) -> set:
    """Pair ids found in the given part files (written or skipped); parts in ``own`` are repaired."""
    ids = set()
    for path in paths:
        from_dict = SkippedPair.from_dict if osp.basename(path).startswith('skipped.') else PairRecord.from_dict
        ids.update(r.id for r in read_part(path, from_dict, repair=path in own))
    return ids


def read_done(path: str) -> Optional[dict]:
    """A done marker's content, or None while it is absent (or, from an older pmu, half written)."""
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def read_pairs(work_dir: str) -> Iterator[PairRecord]:
    """The merged cache's records (``pairs.jsonl``), in corpus order."""
    return read_pair_records(osp.join(work_dir, PAIRS_FILE))


# ---------------------------------------------------------------------------------------------- barrier

def _describe_missing(work_dir: str, rank: int, world: int) -> str:
    files = ShardFiles(work_dir, rank, world)
    if not osp.exists(files.pairs):
        progress = f'{osp.basename(files.pairs)} does not exist (the rank never started?)'
    else:
        with open(files.pairs, 'rb') as f:
            lines = sum(chunk.count(b'\n') for chunk in iter(lambda: f.read(1 << 20), b''))
        age = time.time() - os.path.getmtime(files.pairs)
        progress = f'{osp.basename(files.pairs)} has {lines} records, last written {age:.0f}s ago'
    return f'rank {rank}: no {osp.basename(files.done)} ({progress})'


def _progress(work_dir: str, rank: int, world: int) -> tuple:
    """What changes while a rank works: size and modification time of its part files."""
    files = ShardFiles(work_dir, rank, world)
    stamp = []
    for path in (files.pairs, files.skipped):
        try:
            st = os.stat(path)
            stamp.append((st.st_size, st.st_mtime_ns))
        except FileNotFoundError:
            stamp.append(None)
    return tuple(stamp)


def wait_for_done_markers(work_dir: str, world: int, num_pairs: int, timeout: float, logger=None,
                          poll_interval: float = 1.0, log_interval: float = 60.0,
                          stall_timeout: Optional[float] = None) -> List[dict]:
    """Wait until every shard of ``world`` processes has written its done marker; their contents.

    The barrier is the file system, so ranks need no process group. A marker
    from a run on another corpus (a different number of pairs) is an error.
    ``ShardTimeoutError``, naming the missing ranks, their marker files and how
    far their part files got, ends the wait after ``timeout`` seconds in all, or
    after ``stall_timeout`` seconds in which no missing rank's part file changed
    (a rank that died or never started; ``None``: no such limit).
    """
    start = last_log = last_change = time.monotonic()
    deadline = start + timeout
    stamps = None
    while True:
        found, missing = [], []
        for rank in range(world):
            path = ShardFiles(work_dir, rank, world).done
            info = read_done(path)
            if info is None:
                missing.append(rank)
                continue
            if info.get('num_pairs') != num_pairs:
                raise RuntimeError(f'{path}: shard ran on a corpus of {info.get("num_pairs")} pairs, this run has '
                                   f'{num_pairs}; rerun that rank with --resume')
            found.append(info)
        if not missing:
            return found
        now = time.monotonic()
        new_stamps = {r: _progress(work_dir, r, world) for r in missing}
        if new_stamps != stamps:
            stamps, last_change = new_stamps, now
        stalled = stall_timeout is not None and now - last_change >= stall_timeout
        if now >= deadline or stalled:
            details = '; '.join(_describe_missing(work_dir, r, world) for r in missing)
            why = (f'made no progress for {now - last_change:.0f}s (prepare.merge_stall_timeout='
                   f'{stall_timeout}s, or $PMU_PREPARE_TIMEOUT)' if stalled and now < deadline else
                   f'did not finish within prepare.merge_timeout={timeout}s')
            raise ShardTimeoutError(
                f'shards {missing} of {world} {why}: {details}. '
                f'Rerun each with --resume (e.g. RANK={missing[0]} WORLD_SIZE={world} python '
                'tools/prepare_pretrain.py CONFIG --work-dir DIR --resume), then rerun rank 0 with --resume to '
                'merge; or raise prepare.merge_timeout / prepare.merge_stall_timeout')
        if logger is not None and now - last_log >= log_interval:
            logger.info('waiting for shards: ' + '; '.join(_describe_missing(work_dir, r, world) for r in missing))
            last_log = now
        limit = deadline if stall_timeout is None else min(deadline, last_change + stall_timeout)
        time.sleep(max(0.0, min(poll_interval, limit - now)))


# ---------------------------------------------------------------------------------------------- merge

@dataclass
class MergedParts:
    records: List[PairRecord]   # corpus order
    skipped: List[SkippedPair]  # corpus order, pairs without a record only
    duplicates: int             # records found in more than one part (a pair redone by a resume)


def merge_parts(work_dir: str, index_of: Dict[str, int]) -> MergedParts:
    """Join every part in ``work_dir``; ``index_of`` maps the configured corpus's pair ids to positions."""
    def read(path, from_dict):
        for r in read_part(path, from_dict):
            if r.id not in index_of:
                raise RuntimeError(f'{path}: pair {r.id!r} is not in the configured corpus; the work dir '
                                   'belongs to another configuration')
            yield r

    records: Dict[str, PairRecord] = {}
    duplicates = 0
    for path in sorted(glob.glob(osp.join(work_dir, PART_PATTERN))):
        for r in read(path, PairRecord.from_dict):
            duplicates += r.id in records
            records[r.id] = r
    skipped: Dict[str, SkippedPair] = {}
    for path in sorted(glob.glob(osp.join(work_dir, SKIPPED_PART_PATTERN))):
        skipped.update((s.id, s) for s in read(path, SkippedPair.from_dict) if s.id not in records)
    return MergedParts(sorted(records.values(), key=lambda r: index_of[r.id]),
                       sorted(skipped.values(), key=lambda s: index_of[s.id]), duplicates)


def write_merged(work_dir: str, merged: MergedParts) -> None:
    """``pairs.jsonl`` and ``skipped.jsonl``, each replaced atomically."""
    write_lines(osp.join(work_dir, PAIRS_FILE), (r.to_json() for r in merged.records))
    write_lines(osp.join(work_dir, SKIPPED_FILE), (s.to_json() for s in merged.skipped))
