"""Flickr8k through the preparation (its config, on a few real photos of each split) and back out of the
cache by split file (``PretrainPairsDataset(image_list=...)``)."""
import json
import os.path as osp

import pytest
from mmengine.config import Config

from pmu.datasets import PretrainPairsDataset
from pmu.pseudo_labels.prepare import prepare
from pmu.pseudo_labels.vocabulary import read_counted_vocabulary, resolve_vocabulary_file
from tests.conftest import require_real_data
from .conftest import CONFIGS

FLICKR8K_CONFIG = osp.join(CONFIGS, 'prepare_onnx-centernet_spacy_flickr8k.py')
SPLITS = ('train', 'dev', 'test')


@pytest.fixture(scope='module')
def flickr8k_cache(tmp_path_factory):
    """A cache of 2 train, 1 dev and 1 test photo (20 pairs), prepared with the Flickr8k config."""
    root = require_real_data('flickr8k/captions.txt', *(f'flickr8k/Flickr_8k.{s}Images.txt' for s in SPLITS))
    tmp = tmp_path_factory.mktemp('flickr8k')
    cfg = Config.fromfile(FLICKR8K_CONFIG)
    for entry, split, n in zip(cfg.dataset, SPLITS, (2, 1, 1)):
        with open(osp.join(root, 'flickr8k', f'Flickr_8k.{split}Images.txt'), encoding='utf-8') as f:
            names = [next(f).strip() for _ in range(n)]
        (tmp / f'{split}.txt').write_text('\n'.join(names) + '\n')
        entry.split_file = str(tmp / f'{split}.txt')
    summary = prepare(cfg, str(tmp / 'work'))
    return tmp, summary


def test_flickr8k_config_prepares_all_splits_with_the_shipped_vocabularies(flickr8k_cache):
    tmp, summary = flickr8k_cache
    assert summary['written'] == 20 and summary['images'] == 4 and summary['unaccounted'] == 0
    assert summary['skipped_annotation_entries'] == {} and summary['repaired_annotation_entries'] == {}
    work = tmp / 'work'
    for kind in ('entity', 'relation'):
        shipped = [e for e, _ in read_counted_vocabulary(resolve_vocabulary_file(f'flickr8k-train_{kind}_vocab.txt'))]
        assert (work / f'{kind}_vocab.txt').read_text().splitlines() == shipped and len(shipped) == 1000
    assert json.loads((work / 'entity_vocab_counts.json').read_text())['dog'] == 6759
    ids = [json.loads(line)['id'] for line in (work / 'pairs.jsonl').read_text().splitlines()]
    assert ids[0].startswith('flickr8k:') and ids[0].endswith('#0')


def test_image_list_selects_a_split_of_one_image_folder(flickr8k_cache):
    tmp, _ = flickr8k_cache
    work = str(tmp / 'work')
    test = PretrainPairsDataset(work, image_list='flickr8k/Flickr_8k.testImages.txt')  # under the data root
    train = PretrainPairsDataset(work, image_list=str(tmp / 'train.txt'))
    assert len(test) == 5 and len(train) == 10
    assert {osp.basename(d['img_path']) for d in train.unique_images()} == set(
        (tmp / 'train.txt').read_text().split())
    with pytest.raises(FileNotFoundError, match='image_list nowhere.txt not found'):
        PretrainPairsDataset(work, image_list='nowhere.txt')
    (tmp / 'other.txt').write_text('not_in_the_cache.jpg\n')
    with pytest.raises(ValueError, match='no pairs left'):
        PretrainPairsDataset(work, image_list=str(tmp / 'other.txt'))


def test_a_vocabulary_file_that_does_not_resolve_fails_before_any_work(tmp_path):
    cfg = Config.fromfile(FLICKR8K_CONFIG)
    cfg.relation_vocab.file = 'no_such_vocab.txt'
    with pytest.raises(FileNotFoundError, match="vocabulary file 'no_such_vocab.txt' not found"):
        prepare(cfg, str(tmp_path / 'work'))
    assert not (tmp_path / 'work').exists()


def test_degenerate_boxes_count_once_per_photo_when_its_captions_span_batches(flickr8k_cache, tmp_path):
    """Batches of 3 captions split each photo's five over two batches: the shard's count, the
    summary's and the records' agree."""
    tmp, before = flickr8k_cache
    cfg = Config.fromfile(FLICKR8K_CONFIG)
    for entry, split in zip(cfg.dataset, SPLITS):
        entry.split_file = str(tmp / f'{split}.txt')
    cfg.prepare.batch_size = 3
    summary = prepare(cfg, str(tmp_path / 'work'))
    records = [json.loads(line) for line in (tmp_path / 'work' / 'pairs.jsonl').read_text().splitlines()]
    per_photo = {r['image']: r['boxes_dropped'] for r in records}
    assert summary['boxes_dropped_degenerate'] == sum(per_photo.values()) > 0
    assert summary['shards'][0]['this_run']['boxes_dropped_degenerate'] == summary['boxes_dropped_degenerate']
    assert summary['boxes_dropped_degenerate'] == before['boxes_dropped_degenerate']  # one batch of 20 before


def test_max_images_keeps_the_first_photos_of_the_image_list_with_all_their_captions(flickr8k_cache):
    tmp, _ = flickr8k_cache
    work = str(tmp / 'work')
    names = (tmp / 'train.txt').read_text().split()
    (tmp / 'reversed.txt').write_text('\n'.join(reversed(names)) + '\n')
    for listing, first in (('train.txt', names[0]), ('reversed.txt', names[-1])):
        one = PretrainPairsDataset(work, image_list=str(tmp / listing), max_images=1)
        assert len(one) == 5 and {osp.basename(one.get_data_info(i)['img_path']) for i in range(5)} == {first}
    everything = PretrainPairsDataset(work, max_images=10)  # more than the cache holds: all 4 photos
    assert len(everything) == 20
    with pytest.raises(ValueError, match='max_images must be >= 1'):
        PretrainPairsDataset(work, max_images=0)
