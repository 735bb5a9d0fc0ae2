"""One process's preparation run: its shard of the corpus, then (rank 0) the barrier, the merge and
the vocabularies. ``pmu.pseudo_labels.prepare.prepare`` is the entry point; the files it writes are
described in ``cache.py`` and docs/pseudo_labels.md."""
import difflib
import os
import os.path as osp
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope

from pmu.registry import DATASETS, DETECTORS, ENTITY_FINDERS
from pmu.structures import EntityRecord, ObjectRecord, PairRecord
from pmu.utils.dist import get_rank_world
from pmu.utils.errors import ConfigKeyError
from pmu.utils.image import load_image
from pmu.utils.progress import LoopProgress
from . import cache
from .cache import PartWriter, ShardFiles, SkippedPair
from .detectors.base import ImageInput
from .structures import Detections
from .vocabulary import (
    build_entity_vocabulary,
    build_relation_vocabulary,
    read_entity_vocabulary,
    resolve_vocabulary_file,
    write_vocabulary,
)

DEFAULT_PREPARE = dict(batch_size=32, on_bad_input='skip', max_image_pixels=50_000_000,
                       merge_timeout=2 * 3600, merge_stall_timeout=600, merge_poll_interval=1.0,
                       non_latin_captions='skip', min_latin_share=0.5)
#: environment variable that overrides ``prepare.merge_stall_timeout`` (seconds)
STALL_TIMEOUT_ENV = 'PMU_PREPARE_TIMEOUT'


class BadInputError(RuntimeError):
    """A pair that cannot be prepared, under ``on_bad_input='raise'``."""


def _build(registry, cfg):
    # Under pmu's scope: another library (mmdet's APIs) may have left MMEngine's
    # global default scope pointing at its own registries.
    with DefaultScope.overwrite_default_scope(registry.scope):
        return registry.build(cfg)


@dataclass
class _Image:
    """One distinct image of a batch: decoded, or why not; its detections once run."""
    image: Optional[ImageInput]
    problem: Optional[Tuple[str, str]]  # (skip reason, detail)
    detections: Optional[Detections] = None


class PreparationRun:
    """The preparation of one process (rank ``R`` of ``W``) in ``work_dir``.

    Construction reads the configured corpus and picks this rank's shard (a
    contiguous slice, so an image's captions stay in one process and the image
    is decoded and detected once); the detector and the entity finder are built
    only when the shard has pairs left to do. ``run()`` is the whole job:
    ``run_shard()``, then on rank 0 ``wait_for_shards()`` and ``merge()``.

    Args:
        cfg: the preparation config (``dataset``, ``detector``,
            ``entity_finder``, ``prepare``, ``entity_vocab``, ``relation_vocab``).
        work_dir: where the cache goes.
        resume: continue the parts already in ``work_dir``, skipping every pair
            id found in any of them.
        launcher: ``'pytorch'`` (torchrun, gloo) or ``'none'`` (``$RANK`` / ``$WORLD_SIZE``).
    """

    def __init__(self, cfg: Config, work_dir: str, resume: bool = False, launcher: str = 'none'):
        self.cfg = cfg
        self.work_dir = work_dir
        self.resume = resume
        self.rank, self.world = get_rank_world(launcher)
        given = cfg.get('prepare') or {}
        unknown = [k for k in given if k not in DEFAULT_PREPARE]
        if unknown:
            close = difflib.get_close_matches(unknown[0], list(DEFAULT_PREPARE), n=2)
            raise ConfigKeyError(f'prepare.{unknown[0]} is not a preparation option'
                                 + (f"; did you mean {' or '.join(f'prepare.{c}' for c in close)}?" if close else '')
                                 + f' (known: {", ".join(DEFAULT_PREPARE)})')
        self.options = dict(DEFAULT_PREPARE, **given)
        if os.environ.get(STALL_TIMEOUT_ENV):
            try:
                self.options['merge_stall_timeout'] = float(os.environ[STALL_TIMEOUT_ENV])
            except ValueError:
                raise ValueError(f'${STALL_TIMEOUT_ENV} must be a number of seconds, '
                                 f'not {os.environ[STALL_TIMEOUT_ENV]!r}') from None
        if self.options['on_bad_input'] not in ('skip', 'raise'):
            raise ValueError(f"prepare.on_bad_input must be 'skip' or 'raise', not {self.options['on_bad_input']!r}")
        if self.options['non_latin_captions'] not in ('skip', 'keep'):
            raise ValueError("prepare.non_latin_captions must be 'skip' or 'keep', "
                             f"not {self.options['non_latin_captions']!r}")
        if 'entity_finder' not in cfg:
            old = " (older configs called it 'entity_extractor')" if 'entity_extractor' in cfg else ''
            raise KeyError(f"the preparation config has no 'entity_finder', e.g. dict(type='SpacyEntityFinder'){old}")
        for key in ('entity_vocab', 'relation_vocab'):  # a wrong name fails now, not at the merge hours later
            if (cfg.get(key) or {}).get('file'):
                resolve_vocabulary_file(cfg[key]['file'])
        os.makedirs(work_dir, exist_ok=True)
        self.files = ShardFiles(work_dir, self.rank, self.world)
        self.logger = MMLogger.get_instance(f'pmu.prepare.{time.time_ns()}', logger_name='pmu.prepare',
                                            log_file=osp.join(work_dir, f'prepare.rank{self.rank}.log'))
        self.datasets, self.pairs, self.index_of = self._load_corpus()
        n = len(self.pairs)
        self.shard = range(n * self.rank // self.world, n * (self.rank + 1) // self.world)
        self.detector = None
        self.entity_finder = None
        self.stats: Counter = Counter()
        self.timers: Counter = Counter()
        # degenerate boxes count once per image, not once per caption, also when an image's
        # captions fall into two batches
        self._degenerate_counted: set = set()

    # ------------------------------------------------------------------------------------------ corpus

    def _load_corpus(self) -> Tuple[list, List[dict], Dict[str, int]]:
        import pmu.datasets.caption_pairs  # noqa: F401  registers the caption corpora
        cfgs = self.cfg.dataset if isinstance(self.cfg.dataset, (list, tuple)) else [self.cfg.dataset]
        datasets = [_build(DATASETS, c) for c in cfgs]
        pairs = [ds.get_data_info(i) for ds in datasets for i in range(len(ds))]
        index_of: Dict[str, int] = {}
        for i, p in enumerate(pairs):
            if p['pair_id'] in index_of:
                raise ValueError(f"pair id {p['pair_id']!r} appears twice (pairs {index_of[p['pair_id']]} and {i}); "
                                 'concatenated corpora need distinct ids')
            index_of[p['pair_id']] = i
        for ds in datasets:
            if ds.skipped:
                self.logger.warning(f'{ds.ann_file}: skipped entries {dict(ds.skipped)}; '
                                    f'e.g. {ds.skipped_examples[:3]}')
            if getattr(ds, 'repaired', None):
                self.logger.warning(f'{ds.ann_file}: repaired entries {dict(ds.repaired)}; '
                                    f'e.g. {ds.repaired_examples[:3]}')
        return datasets, pairs, index_of

    # ------------------------------------------------------------------------------------------ the job

    def run(self) -> Optional[dict]:
        """This rank's shard; on rank 0 also the merge. Returns the summary on rank 0, None elsewhere."""
        self.run_shard()
        if self.rank != 0:
            return None
        self.wait_for_shards()
        return self.merge()

    def _todo(self) -> List[int]:
        """Corpus positions of this shard not yet in any part (with ``resume``); refuses to overwrite."""
        existing = cache.part_files(self.work_dir)
        own = (self.files.pairs, self.files.skipped)
        if not self.resume:
            # The other ranks of this run may already be writing their parts: only our
            # own parts, or parts of another world size, are left from an earlier run.
            stale = [p for p in existing if p in own or not p.endswith(f'-of-{self.world}.jsonl')]
            if stale:
                raise FileExistsError(f'{self.work_dir} already holds a preparation ({stale[0]}, ...); pass '
                                      '--resume to continue it, or choose another --work-dir')
            existing = []
        cache.remove_done(self.files)
        finished = cache.finished_ids(existing, own=own)
        return [i for i in self.shard if self.pairs[i]['pair_id'] not in finished]

    def run_shard(self) -> None:
        """Prepare this rank's pairs into its part files, then write its done marker."""
        todo = self._todo()
        lo, hi = self.shard.start, self.shard.stop
        self.logger.info(f'rank {self.rank}/{self.world}: pairs {lo}..{hi - 1} of {len(self.pairs)}; '
                         f'{len(self.shard) - len(todo)} already done, {len(todo)} to do')
        start = time.perf_counter()
        if todo:
            self.detector = _build(DETECTORS, self.cfg.detector)
            self.entity_finder = _build(ENTITY_FINDERS, self.cfg.entity_finder)
            self.timers['build_s'] = time.perf_counter() - start
            self.logger.info(f'detector: {self.detector.name}; entity finder: {self.entity_finder.name}')
            self._prepare(todo)
        elapsed = time.perf_counter() - start
        cache.write_done(self.files, dict(
            rank=self.rank, world_size=self.world, num_pairs=len(self.pairs), shard=[lo, hi],
            this_run=dict(self.stats, seconds=round(elapsed, 3),
                          **{k: round(v, 3) for k, v in self.timers.items()})))
        self.logger.info(f'rank {self.rank}: shard finished in {elapsed:.1f}s: {dict(self.stats)}')

    def _prepare(self, todo: List[int]) -> None:
        batch_size = self.options['batch_size']
        previous: Dict[str, _Image] = {}
        # The bar counts the whole shard, so a resumed run starts where the killed one stopped.
        bar = LoopProgress(len(self.shard), f'prepare[rank {self.rank}]', unit='pair',
                           initial=len(self.shard) - len(todo), logger=self.logger, enabled=self.rank == 0)
        with PartWriter(self.files.pairs) as writer, PartWriter(self.files.skipped) as skip_writer, bar:
            for b in range(0, len(todo), batch_size):
                batch = todo[b:b + batch_size]
                records, skips, previous = self._prepare_batch(batch, previous)
                # Skips first: a kill between the two writes then only re-tries the usable pairs.
                skip_writer.write(skips)
                writer.write(records)
                self.stats['written'] += len(records)
                for s in skips:
                    self.stats[f'skipped_{s.reason}'] += 1
                    self.logger.warning(f'skipped pair {s.id} ({s.image}): {s.reason}: {s.detail}')
                bar.update(len(batch))

    def _load(self, path: str) -> _Image:
        # As stored, no EXIF rotation: boxes are in the stored image's pixels, like COCO's.
        loaded = load_image(path, 'RGB', exif_transpose=False, max_pixels=self.options['max_image_pixels'])
        if not loaded.ok:
            return _Image(None, (f'image_{loaded.status}', loaded.reason))
        return _Image(ImageInput(path, loaded.image.width, loaded.image.height, loaded.image), None)

    def _prepare_batch(self, batch: Sequence[int], previous: Dict[str, _Image]):
        """Records and skips of the pairs at corpus positions ``batch``; also this batch's images, which
        the next batch reuses (an image's pairs are consecutive)."""
        pairs = [self.pairs[i] for i in batch]
        t0 = time.perf_counter()
        images: Dict[str, _Image] = {}
        for p in pairs:
            path = p['img_path']
            if path not in images:
                images[path] = previous.get(path) or self._load(path)
        self.timers['load_s'] += time.perf_counter() - t0

        skips, usable = [], []
        for i, p in zip(batch, pairs):
            problem = images[p['img_path']].problem
            if not p['caption'].strip():
                problem = ('caption_empty', 'empty or whitespace-only caption')
            share = latin_share(p['caption'])
            if not problem and share < self.options['min_latin_share']:
                detail = (f'{share:.0%} of its letters are Latin (prepare.min_latin_share='
                          f"{self.options['min_latin_share']}): {p['caption'][:60]!r}")
                if self.options['non_latin_captions'] == 'skip':
                    problem = ('caption_not_latin', detail)
                else:
                    self.stats['kept_caption_not_latin'] += 1
                    if self.stats['kept_caption_not_latin'] <= 5:
                        self.logger.warning(f"kept pair {p['pair_id']} with a non-Latin caption "
                                            f"(prepare.non_latin_captions='keep'): {detail}")
            if not problem:
                usable.append((i, p))
                continue
            if problem[0] == 'caption_not_latin':  # a policy, not bad input: never raises
                skips.append(SkippedPair(p['pair_id'], p['img_path'], *problem))
                continue
            if self.options['on_bad_input'] == 'raise':
                raise BadInputError(
                    f"pair {p['pair_id']} (image {p['img_path']}): {problem[0]}: {problem[1]}. "
                    f'Pairs already prepared stay in {self.files.pairs}; fix or remove this input and rerun '
                    "with --resume, or set prepare.on_bad_input='skip' to skip and count such pairs")
            skips.append(SkippedPair(p['pair_id'], p['img_path'], *problem))

        needed = {p['img_path'] for _, p in usable}
        to_detect = [entry for path, entry in images.items() if path in needed and entry.detections is None]
        t0 = time.perf_counter()
        for entry, det in zip(to_detect, self.detector([e.image for e in to_detect])):
            entry.detections = det
        self.timers['detect_s'] += time.perf_counter() - t0
        self.stats['images_detected'] += len(to_detect)

        t0 = time.perf_counter()
        entities = self.entity_finder([p['caption'] for _, p in usable])
        self.timers['extract_s'] += time.perf_counter() - t0

        records = []
        for (i, p), candidates in zip(usable, entities):
            entry = images[p['img_path']]
            det = entry.detections
            if p['img_path'] not in self._degenerate_counted:
                self._degenerate_counted.add(p['img_path'])
                self.stats['boxes_dropped_degenerate'] += det.num_degenerate
            where = f"pair {p['pair_id']}"
            records.append(PairRecord(
                index=i, id=p['pair_id'], image=p['img_path'], width=entry.image.width, height=entry.image.height,
                caption=p['caption'], match=p['match'],
                entities=[EntityRecord.from_dict(e, f'{where}: entity finder output') for e in candidates],
                objects=[ObjectRecord.from_dict(o, f'{where}: detector output') for o in det.to_records()],
                boxes_dropped=det.num_degenerate))
        return records, skips, images

    def wait_for_shards(self) -> List[dict]:
        """The file barrier: rank 0 waits for every shard's done marker; the markers' contents.

        It gives up with an error naming the missing ranks and their part files
        after ``prepare.merge_timeout`` seconds in all (default 2 h), or sooner
        when no missing rank has written anything for
        ``prepare.merge_stall_timeout`` seconds (default 600; ``$PMU_PREPARE_TIMEOUT``
        overrides it; ``None`` turns it off): a rank that died or never started."""
        return cache.wait_for_done_markers(self.work_dir, self.world, len(self.pairs),
                                           self.options['merge_timeout'], self.logger,
                                           poll_interval=self.options['merge_poll_interval'],
                                           stall_timeout=self.options['merge_stall_timeout'])

    # ------------------------------------------------------------------------------------------ merge

    def merge(self) -> dict:
        """Join the parts into ``pairs.jsonl`` (corpus order), build both vocabularies, write the summary."""
        merged = cache.merge_parts(self.work_dir, self.index_of)
        cache.write_merged(self.work_dir, merged)
        entity_vocab, relation_vocab = self.build_vocabularies(merged.records)
        summary = self._summary(merged, entity_vocab, relation_vocab)
        cache.write_json(osp.join(self.work_dir, 'summary.json'), summary, indent=2)
        if summary['unaccounted']:
            self.logger.error(f"{summary['unaccounted']} pairs are neither in pairs.jsonl nor in skipped.jsonl "
                              "(a shard's parts were deleted after it finished?); rerun with --resume to prepare "
                              'them')
        dataset_skipped = summary['skipped_annotation_entries']
        level = 'warning' if summary['skipped_pairs'] or dataset_skipped or summary['unaccounted'] else 'info'
        getattr(self.logger, level)(
            f"merged {len(merged.records)} of {len(self.pairs)} pairs into {osp.join(self.work_dir, 'pairs.jsonl')}; "
            f"skipped pairs {summary['skipped_pairs']}, skipped annotation entries {dataset_skipped}, degenerate "
            f"boxes dropped {summary['boxes_dropped_degenerate']}; entity vocabulary {len(entity_vocab)}, relation "
            f'vocabulary {len(relation_vocab)}')
        return summary

    def build_vocabularies(self, records: List[PairRecord]) -> Tuple[List[Tuple[str, int]], List[str]]:
        """``entity_vocab.txt`` (+ counts) and ``relation_vocab.txt``; returns both vocabularies."""
        # Entity vocabulary over distinct captions: NewsCLIPpings reuses each caption in
        # several (mismatched) pairs, which must not multiply its candidates' counts.
        vcfg = dict(dict(max_size=1000, min_count=1, file=None), **self.cfg.get('entity_vocab', {}))
        if vcfg['file']:  # a fixed vocabulary, e.g. mined from the train captions only (mine_vocabulary.py)
            entity_vocab = read_entity_vocabulary(vcfg['file'], vcfg['max_size'])
        else:
            by_caption = {r.caption: [e.norm for e in r.entities] for r in records}
            entity_vocab = build_entity_vocabulary(by_caption.values(), vcfg['max_size'], vcfg['min_count'])
        write_vocabulary(osp.join(self.work_dir, 'entity_vocab.txt'), (e for e, _ in entity_vocab))
        cache.write_json(osp.join(self.work_dir, 'entity_vocab_counts.json'), dict(entity_vocab), indent=0)
        rcfg = dict(dict(file=None, max_size=-1), **self.cfg.get('relation_vocab', {}))
        relation_vocab = build_relation_vocabulary(rcfg['file'], rcfg['max_size'])
        write_vocabulary(osp.join(self.work_dir, 'relation_vocab.txt'), relation_vocab)
        return entity_vocab, relation_vocab

    def _summary(self, merged: cache.MergedParts, entity_vocab, relation_vocab) -> dict:
        records = merged.records
        # The markers are read again: rank 0's wait may have been a separate (resumed) process.
        shards = [cache.read_done(ShardFiles(self.work_dir, r, self.world).done) for r in range(self.world)]
        dataset_skipped, examples, repaired, repaired_examples = Counter(), [], Counter(), []
        for ds in self.datasets:
            dataset_skipped.update(ds.skipped)
            examples += ds.skipped_examples
            repaired.update(getattr(ds, 'repaired', {}))
            repaired_examples += getattr(ds, 'repaired_examples', [])
        per_image = list({r.image: r for r in records}.values())
        return dict(
            num_pairs=len(self.pairs),
            written=len(records),
            matched=sum(r.match for r in records),
            skipped_pairs=dict(Counter(s.reason for s in merged.skipped)),
            skipped_annotation_entries=dict(dataset_skipped),
            skipped_annotation_examples=examples,
            repaired_annotation_entries=dict(repaired),
            repaired_annotation_examples=repaired_examples,
            duplicate_records_merged=merged.duplicates,
            unaccounted=len(self.pairs) - len(records) - len(merged.skipped),
            boxes_dropped_degenerate=sum(r.boxes_dropped for r in per_image),
            images=len(per_image),
            objects_per_image=_mean([len(r.objects) for r in per_image]),
            entities_per_caption=_mean([len(r.entities) for r in records]),
            entity_vocab_size=len(entity_vocab),
            relation_vocab_size=len(relation_vocab),
            detector=self.cfg.detector.get('type'),
            entity_finder=self.cfg.entity_finder.get('type'),
            world_size=self.world,
            shards=shards,
        )


def latin_share(text: str) -> float:
    """The share of the letters of ``text`` that are Latin script (``LATIN ...`` in their Unicode name:
    ASCII and accented letters alike); 1.0 for a text without letters.

    pmu's entity finder and vocabularies are English: captions in another script (Arabic, Chinese,
    Cyrillic, ...) put words such as "على" into the entity vocabulary. This dependency-free check finds
    other scripts, not other languages written in Latin letters (French, Spanish captions pass)."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 1.0
    latin = sum(c.isascii() or unicodedata.name(c, '').startswith('LATIN') for c in letters)
    return latin / len(letters)


def _mean(values) -> float:
    return round(sum(values) / len(values), 3) if values else 0.0
