"""The preparation step: pseudo-label inputs for PROMU pre-training.

Runs the configured entity extractor over the captions and the configured
detector over the images of a caption corpus, and writes to ``work_dir``:

- ``pairs.jsonl``: one JSON object a line per usable pair (see ``docs/pseudo_labels.md``);
- ``entity_vocab.txt`` (+ ``entity_vocab_counts.json``) and ``relation_vocab.txt``;
- ``skipped.jsonl``: every pair that was not used, with the reason;
- ``summary.json``: counts, skip reasons, timings.

Work is written in parts, ``pairs.part-<rank>-of-<world>.jsonl``, one batch at
a time, flushed and fsync'ed, so a kill loses at most the batch in flight;
``resume=True`` skips every pair id found in any part (so a resumed run may
even use another number of processes). Each process takes a contiguous shard
of the corpus; rank 0 merges the parts once every shard has written its
``.done`` marker.

Bad-input policy (``prepare.on_bad_input``): ``'skip'`` (default) skips a pair
whose caption is empty or whose image is missing, unreadable, truncated or
larger than ``max_image_pixels``, and counts it by reason; ``'raise'`` stops at
the first such pair with an error naming it; all batches written before stay
in the cache and ``--resume`` continues after the input is fixed.
"""
import glob
import json
import os
import os.path as osp
import time
import warnings
from collections import Counter
from typing import Dict, List, Optional, Tuple

from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope
from PIL import Image
from tqdm import tqdm

from pmu.registry import DATASETS, DETECTORS, ENTITY_EXTRACTORS
from .detectors.base import ImageInput
from .vocabulary import build_entity_vocabulary, build_relation_vocabulary, write_vocabulary

DEFAULT_PREPARE = dict(batch_size=32, on_bad_input='skip', max_image_pixels=50_000_000,
                       merge_timeout=6 * 3600)
PART_PATTERN = 'pairs.part-*-of-*.jsonl'


class BadInputError(RuntimeError):
    """A pair that cannot be prepared, under ``on_bad_input='raise'``."""


def get_rank_world(launcher: str = 'none') -> Tuple[int, int]:
    """``launcher='pytorch'`` joins torch.distributed (gloo, CPU-friendly) as set up by
    torchrun; otherwise ``$RANK``/``$WORLD_SIZE`` select the shard (default 0 of 1)."""
    if launcher == 'pytorch':
        import torch.distributed as dist

        # Not mmengine.dist.init_dist: it selects a CUDA device, and this step runs on CPU machines.
        if not dist.is_initialized():
            dist.init_process_group(backend='gloo', init_method='env://')
        return dist.get_rank(), dist.get_world_size()
    if launcher != 'none':
        raise ValueError(f"launcher must be 'none' or 'pytorch', not {launcher!r}")
    rank, world = int(os.environ.get('RANK', 0)), int(os.environ.get('WORLD_SIZE', 1))
    if not 0 <= rank < world:
        raise ValueError(f'RANK={rank} is not in [0, WORLD_SIZE={world})')
    return rank, world


def _read_jsonl(path: str, repair: bool = False) -> List[dict]:
    """Records of a part file. A kill can cut the last line short: with ``repair``
    (our own part) the file is truncated back to its last complete line; other
    processes' parts may be mid-write, so their incomplete tail is just ignored.
    A bad line elsewhere is corruption and an error."""
    records, good_end = [], 0
    with open(path, 'rb') as f:
        lines = f.readlines()
    for lineno, raw in enumerate(lines, 1):
        try:
            if not raw.endswith(b'\n'):
                raise ValueError('no newline')
            records.append(json.loads(raw))
            good_end += len(raw)
        except ValueError as e:
            if lineno != len(lines):
                raise RuntimeError(f'{path}:{lineno}: corrupt cache line ({e}); remove the file to redo '
                                   'its pairs') from e
            if repair:
                with open(path, 'r+b') as f:
                    f.truncate(good_end)
    return records


def _load_image(path: str, max_pixels: int):
    """``(ImageInput, None)`` or ``(None, (reason, detail))``."""
    try:
        with warnings.catch_warnings():
            # We apply our own size limit (below) instead of PIL's warning.
            warnings.simplefilter('ignore', Image.DecompressionBombWarning)
            with Image.open(path) as im:
                w, h = im.size
                if w * h > max_pixels:
                    return None, ('image_too_large', f'{w}x{h} pixels > max_image_pixels={max_pixels}')
                # convert() decodes every pixel, so truncated files fail here, not in the detector.
                rgb = im.convert('RGB')
    except FileNotFoundError:
        return None, ('image_missing', 'no such file')
    except Image.DecompressionBombError as e:
        return None, ('image_too_large', str(e))
    except Image.UnidentifiedImageError:
        return None, ('image_unreadable', 'not an image file PIL can read')
    except (OSError, SyntaxError, ValueError) as e:  # truncated or corrupt data, a directory, ...
        return None, ('image_corrupt', f'{type(e).__name__}: {e}')
    return ImageInput(path, w, h, rgb), None


def _build(registry, cfg):
    # Under pmu's scope: another library (mmdet's APIs) may have left MMEngine's
    # global default scope pointing at its own registries.
    with DefaultScope.overwrite_default_scope(registry.scope):
        return registry.build(cfg)


def _build_datasets(cfg_dataset) -> list:
    import pmu.datasets.caption_pairs  # noqa: F401  registers the caption corpora
    cfgs = cfg_dataset if isinstance(cfg_dataset, (list, tuple)) else [cfg_dataset]
    return [_build(DATASETS, c) for c in cfgs]


class _PartWriter:
    """Appends whole batches to a part file, durable before the next batch starts."""

    def __init__(self, path: str):
        self.path = path
        self.f = open(path, 'a', encoding='utf-8')

    def write(self, records: List[dict]):
        if records:
            self.f.write(''.join(json.dumps(r, ensure_ascii=False) + '\n' for r in records))
            self.f.flush()
            os.fsync(self.f.fileno())

    def close(self):
        self.f.close()


def prepare(cfg: Config, work_dir: str, resume: bool = False, launcher: str = 'none') -> Optional[dict]:
    """Run the preparation described by ``cfg``; returns the summary on rank 0 (None elsewhere)."""
    rank, world = get_rank_world(launcher)
    opts = dict(DEFAULT_PREPARE, **cfg.get('prepare', {}))
    if opts['on_bad_input'] not in ('skip', 'raise'):
        raise ValueError(f"prepare.on_bad_input must be 'skip' or 'raise', not {opts['on_bad_input']!r}")
    os.makedirs(work_dir, exist_ok=True)
    logger = MMLogger.get_instance(f'pmu.prepare.{time.time_ns()}', logger_name='pmu.prepare',
                                   log_file=osp.join(work_dir, f'prepare.rank{rank}.log'))

    datasets = _build_datasets(cfg.dataset)
    pairs = [ds.get_data_info(i) for ds in datasets for i in range(len(ds))]
    index_of = {}
    for i, p in enumerate(pairs):
        p['_index'] = i
        if p['pair_id'] in index_of:
            raise ValueError(f"pair id {p['pair_id']!r} appears twice (pairs {index_of[p['pair_id']]} and {i}); "
                             'concatenated corpora need distinct ids')
        index_of[p['pair_id']] = i
    for ds in datasets:
        if ds.skipped:
            logger.warning(f'{ds.ann_file}: skipped entries {dict(ds.skipped)}; e.g. {ds.skipped_examples[:3]}')

    # This rank's contiguous shard: an image's captions stay in one process (except
    # at a shard boundary), so each image is decoded and detected once.
    lo, hi = len(pairs) * rank // world, len(pairs) * (rank + 1) // world
    tag = f'part-{rank}-of-{world}'
    part_file, skip_file = osp.join(work_dir, f'pairs.{tag}.jsonl'), osp.join(work_dir, f'skipped.{tag}.jsonl')
    done_file = osp.join(work_dir, f'{tag}.done')
    existing = glob.glob(osp.join(work_dir, PART_PATTERN)) + glob.glob(osp.join(work_dir, 'skipped.part-*.jsonl'))
    if not resume:
        # The other ranks of this run may already be writing their parts: only our
        # own parts, or parts of another world size, are left from an earlier run.
        stale = [p for p in existing if p in (part_file, skip_file) or not p.endswith(f'-of-{world}.jsonl')]
        if stale:
            raise FileExistsError(f'{work_dir} already holds a preparation ({stale[0]}, ...); pass --resume to '
                                  'continue it, or choose another --work-dir')
        existing = []
    if osp.exists(done_file):
        os.remove(done_file)
    finished = set()
    for path in existing:
        finished.update(r['id'] for r in _read_jsonl(path, repair=path in (part_file, skip_file)))
    todo = [i for i in range(lo, hi) if pairs[i]['pair_id'] not in finished]
    logger.info(f'rank {rank}/{world}: pairs {lo}..{hi - 1} of {len(pairs)}; {hi - lo - len(todo)} already done, '
                f'{len(todo)} to do')

    stats = Counter()
    timers = Counter()
    start = time.perf_counter()
    if todo:
        detector = _build(DETECTORS, cfg.detector)
        extractor = _build(ENTITY_EXTRACTORS, cfg.entity_extractor)
        timers['build_s'] = time.perf_counter() - start
        logger.info(f'detector: {detector.name}; entity extractor: {extractor.name}')
        _run_shard(pairs, todo, hi - lo, detector, extractor, opts, part_file, skip_file, rank, stats, timers,
                   logger)
    elapsed = time.perf_counter() - start
    with open(done_file, 'w') as f:
        json.dump(dict(rank=rank, world_size=world, num_pairs=len(pairs), shard=[lo, hi],
                       this_run=dict(stats, seconds=round(elapsed, 3), **{k: round(v, 3) for k, v in timers.items()})),
                  f)
    logger.info(f'rank {rank}: shard finished in {elapsed:.1f}s: {dict(stats)}')
    if rank != 0:
        return None
    _wait_for_shards(work_dir, world, len(pairs), opts['merge_timeout'], logger)
    return merge(cfg, work_dir, pairs, index_of, datasets, world, logger)


def _run_shard(pairs, todo, shard_size, detector, extractor, opts, part_file, skip_file, rank, stats, timers,
               logger):
    writer, skip_writer = _PartWriter(part_file), _PartWriter(skip_file)
    # image path -> [ImageInput or None, problem or None, Detections or None]
    previous: Dict[str, list] = {}
    # The bar counts the whole shard, so a resumed run starts where the killed one stopped.
    bar = tqdm(total=shard_size, initial=shard_size - len(todo), unit='pair', desc=f'prepare[rank {rank}]',
               disable=rank != 0, dynamic_ncols=True)
    try:
        for b in range(0, len(todo), opts['batch_size']):
            batch = [pairs[i] for i in todo[b:b + opts['batch_size']]]
            current: Dict[str, list] = {}
            t0 = time.perf_counter()
            for p in batch:
                path = p['img_path']
                if path not in current:
                    # Pairs of one image are consecutive: reuse the last batch's detection.
                    current[path] = list(previous[path]) if path in previous else [
                        *_load_image(path, opts['max_image_pixels']), None]
            timers['load_s'] += time.perf_counter() - t0

            skips, usable = [], []
            for p in batch:
                image, problem, _ = current[p['img_path']]
                if not p['caption'].strip():
                    problem = ('caption_empty', 'empty or whitespace-only caption')
                if problem:
                    if opts['on_bad_input'] == 'raise':
                        raise BadInputError(
                            f"pair {p['pair_id']} (image {p['img_path']}): {problem[0]}: {problem[1]}. "
                            f"Pairs already prepared stay in {part_file}; fix or remove this input and rerun "
                            "with --resume, or set prepare.on_bad_input='skip' to skip and count such pairs")
                    skips.append(dict(id=p['pair_id'], image=p['img_path'], reason=problem[0], detail=problem[1]))
                else:
                    usable.append(p)

            needed = {p['img_path'] for p in usable}
            to_detect = [v[0] for k, v in current.items() if k in needed and v[2] is None]
            t0 = time.perf_counter()
            for image, det in zip(to_detect, detector(to_detect)):
                current[image.path][2] = det
            timers['detect_s'] += time.perf_counter() - t0
            stats['images_detected'] += len(to_detect)

            t0 = time.perf_counter()
            entities = extractor([p['caption'] for p in usable])
            timers['extract_s'] += time.perf_counter() - t0

            records = []
            counted = set()  # degenerate boxes count once per image, not once per caption
            for p, ents in zip(usable, entities):
                image, _, det = current[p['img_path']]
                if p['img_path'] not in counted:
                    counted.add(p['img_path'])
                    stats['boxes_dropped_degenerate'] += det.num_degenerate
                records.append(dict(index=p['_index'], id=p['pair_id'], image=p['img_path'],
                                    width=image.width, height=image.height, caption=p['caption'],
                                    match=p['match'], entities=ents, objects=det.to_records(),
                                    boxes_dropped=det.num_degenerate))
            # Skips first: a kill between the two writes then only re-tries the usable pairs.
            skip_writer.write(skips)
            writer.write(records)
            stats['written'] += len(records)
            for s in skips:
                stats[f"skipped_{s['reason']}"] += 1
                logger.warning(f"skipped pair {s['id']} ({s['image']}): {s['reason']}: {s['detail']}")
            previous = current
            bar.update(len(batch))
    finally:
        bar.close()
        writer.close()
        skip_writer.close()


def _wait_for_shards(work_dir: str, world: int, num_pairs: int, timeout: float, logger):
    """Rank 0 waits until every shard of this world size has finished on the same corpus."""
    deadline, last_log = time.time() + timeout, 0.
    while True:
        missing = []
        for r in range(world):
            path = osp.join(work_dir, f'part-{r}-of-{world}.done')
            try:
                with open(path) as f:
                    done = json.load(f)
                if done['num_pairs'] != num_pairs:
                    raise RuntimeError(f'{path}: shard ran on a corpus of {done["num_pairs"]} pairs, this run has '
                                       f'{num_pairs}; rerun that rank with --resume')
            except (FileNotFoundError, json.JSONDecodeError):
                missing.append(r)
        if not missing:
            return
        if time.time() > deadline:
            raise TimeoutError(f'shards {missing} did not finish within prepare.merge_timeout={timeout}s; '
                               'rerun them with --resume, then rank 0 merges')
        if time.time() - last_log > 60:
            logger.info(f'waiting for shards {missing} to finish')
            last_log = time.time()
        time.sleep(1)


def merge(cfg: Config, work_dir: str, pairs: List[dict], index_of: Dict[str, int], datasets: list,
          world: int, logger) -> dict:
    """Join the parts into ``pairs.jsonl`` (corpus order), build both vocabularies, write the summary."""
    records, duplicates = {}, 0
    for path in sorted(glob.glob(osp.join(work_dir, PART_PATTERN))):
        for r in _read_jsonl(path):
            if r['id'] not in index_of:
                raise RuntimeError(f"{path}: pair {r['id']!r} is not in the configured corpus; the work dir "
                                   'belongs to another configuration')
            duplicates += r['id'] in records
            records[r['id']] = r
    skipped = {}
    for path in sorted(glob.glob(osp.join(work_dir, 'skipped.part-*.jsonl'))):
        skipped.update((r['id'], r) for r in _read_jsonl(path) if r['id'] not in records)
    ordered = sorted(records.values(), key=lambda r: index_of[r['id']])
    tmp = osp.join(work_dir, 'pairs.jsonl.tmp')
    with open(tmp, 'w', encoding='utf-8') as f:
        for r in ordered:
            f.write(json.dumps(r, ensure_ascii=False) + '\n')
    os.replace(tmp, osp.join(work_dir, 'pairs.jsonl'))
    with open(osp.join(work_dir, 'skipped.jsonl'), 'w', encoding='utf-8') as f:
        for r in sorted(skipped.values(), key=lambda r: index_of[r['id']]):
            f.write(json.dumps(r, ensure_ascii=False) + '\n')

    # Entity vocabulary over distinct captions: NewsCLIPpings reuses each caption in
    # several (mismatched) pairs, which must not multiply its candidates' counts.
    by_caption = {r['caption']: [e['norm'] for e in r['entities']] for r in ordered}
    vcfg = dict(dict(max_size=1000, min_count=1), **cfg.get('entity_vocab', {}))
    entity_vocab = build_entity_vocabulary(by_caption.values(), vcfg['max_size'], vcfg['min_count'])
    write_vocabulary(osp.join(work_dir, 'entity_vocab.txt'), (e for e, _ in entity_vocab))
    with open(osp.join(work_dir, 'entity_vocab_counts.json'), 'w', encoding='utf-8') as f:
        json.dump(dict(entity_vocab), f, ensure_ascii=False, indent=0)
    rcfg = dict(dict(file=None, max_size=-1), **cfg.get('relation_vocab', {}))
    relation_vocab = build_relation_vocabulary(rcfg['file'], rcfg['max_size'])
    write_vocabulary(osp.join(work_dir, 'relation_vocab.txt'), relation_vocab)

    shards = []
    for r in range(world):
        with open(osp.join(work_dir, f'part-{r}-of-{world}.done')) as f:
            shards.append(json.load(f))
    dataset_skipped = Counter()
    examples = []
    for ds in datasets:
        dataset_skipped.update(ds.skipped)
        examples += ds.skipped_examples
    summary = dict(
        num_pairs=len(pairs),
        written=len(ordered),
        matched=sum(r['match'] for r in ordered),
        skipped_pairs=dict(Counter(r['reason'] for r in skipped.values())),
        skipped_annotation_entries=dict(dataset_skipped),
        skipped_annotation_examples=examples,
        duplicate_records_merged=duplicates,
        unaccounted=len(pairs) - len(ordered) - len(skipped),
        boxes_dropped_degenerate=sum(r['boxes_dropped'] for r in {r['image']: r for r in ordered}.values()),
        images=len({r['image'] for r in ordered}),
        objects_per_image=_mean([len(r['objects']) for r in {r['image']: r for r in ordered}.values()]),
        entities_per_caption=_mean([len(r['entities']) for r in ordered]),
        entity_vocab_size=len(entity_vocab),
        relation_vocab_size=len(relation_vocab),
        detector=cfg.detector.get('type'),
        entity_extractor=cfg.entity_extractor.get('type'),
        world_size=world,
        shards=shards,
    )
    with open(osp.join(work_dir, 'summary.json'), 'w', encoding='utf-8') as f:
        json.dump(summary, f, ensure_ascii=False, indent=2)
    if summary['unaccounted']:
        logger.error(f"{summary['unaccounted']} pairs are neither in pairs.jsonl nor in skipped.jsonl (a shard's "
                     'parts were deleted after it finished?); rerun with --resume to prepare them')
    level = 'warning' if summary['skipped_pairs'] or dataset_skipped or summary['unaccounted'] else 'info'
    getattr(logger, level)(
        f"merged {len(ordered)} of {len(pairs)} pairs into {osp.join(work_dir, 'pairs.jsonl')}; skipped pairs "
        f"{summary['skipped_pairs']}, skipped annotation entries {dict(dataset_skipped)}, degenerate boxes "
        f"dropped {summary['boxes_dropped_degenerate']}; entity vocabulary {len(entity_vocab)}, relation "
        f'vocabulary {len(relation_vocab)}')
    return summary


def _mean(values) -> float:
    return round(sum(values) / len(values), 3) if values else 0.0
