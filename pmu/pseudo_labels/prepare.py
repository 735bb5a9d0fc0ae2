"""The preparation step: pseudo-label inputs for PROMU pre-training (``tools/prepare_pretrain.py``).

Runs the configured candidate entity finder over the captions and the configured
detector over the images of a caption corpus, and writes to ``work_dir``:

- ``pairs.jsonl``: one ``pmu.structures.PairRecord`` a line per usable pair;
- ``entity_vocab.txt`` (+ ``entity_vocab_counts.json``) and ``relation_vocab.txt``;
- ``skipped.jsonl``: every pair that was not used, with the reason;
- ``summary.json``: counts, skip reasons, timings.

Where each job lives:

- ``run.PreparationRun``: one process's run (its shard, the barrier, the merge, the vocabularies);
- ``cache``: part files, done markers, the file barrier, merging, reading the cache back;
- ``pmu.structures.pretrain_record``: the record schema, shared with ``PretrainPairsDataset``;
- ``pmu.utils.image.load_image``: image decoding, shared with the datasets;
- ``pmu.utils.dist.get_rank_world``: which shard this process takes.

Bad-input policy (``prepare.on_bad_input``): ``'skip'`` (default) skips a pair
whose caption is empty or whose image is missing, unreadable, truncated or
larger than ``max_image_pixels``, and counts it by reason; ``'raise'`` stops at
the first such pair with an error naming it; all batches written before stay
in the cache and ``--resume`` continues after the input is fixed.
"""
from typing import Optional

from mmengine.config import Config

from pmu.utils.dist import get_rank_world
from .run import DEFAULT_PREPARE, BadInputError, PreparationRun

__all__ = ['BadInputError', 'DEFAULT_PREPARE', 'PreparationRun', 'get_rank_world', 'prepare']


def prepare(cfg: Config, work_dir: str, resume: bool = False, launcher: str = 'none') -> Optional[dict]:
    """Run the preparation described by ``cfg``; returns the summary on rank 0 (None elsewhere)."""
    return PreparationRun(cfg, work_dir, resume=resume, launcher=launcher).run()
