import os.path as osp
import shutil

import pytest

from pmu.datasets import DataFormatError, TwitterNERDataset, bio_tags
from pmu.structures import PMUDataSample
from tests.conftest import DEMO_DATA, MINILM, require_real_data, write

TYPES_2015 = ('PER', 'LOC', 'ORG', 'OTHER')
TYPES_2017 = ('PER', 'LOC', 'ORG', 'MISC')
PIPELINE = [
    dict(type='LoadImage', size=(64, 64)),
    dict(type='TokenizeWords', tokenizer=MINILM, max_length=128),
    dict(type='PackMultimodalInputs'),
]


@pytest.mark.parametrize('name,n_train,n_valid,types', [
    ('twitter2015', 4000, 1000, TYPES_2015),
    ('twitter2015-hvpnet', 4000, 1000, TYPES_2015),
    ('twitter2017', 3373, 723, TYPES_2017),
])
def test_files_load_with_all_sentences(twitter_root, name, n_train, n_valid, types):
    """The real releases, whole; Twitter-2017 falls back to the demo set (same format) without them."""
    root = twitter_root if name == 'twitter2017' else require_real_data(f'{name}/train.txt', f'{name}/valid.txt')
    real = root != DEMO_DATA
    if not real:
        n_train, n_valid = 40, 12  # demo/data/README.md
    for split, n in (('train', n_train), ('valid', n_valid)):
        ds = TwitterNERDataset(ann_file=f'{name}/{split}.txt', entity_types=types,
                               data_root=root, data_prefix=dict(img_path=f'{name}_images'))
        assert len(ds) == n
        assert ds.metainfo['tags'] == bio_tags(types)
        info = ds.get_data_info(0)
        assert len(info['words']) == len(info['gt_tags']) > 0
        assert info['img_path'].endswith(info['img_id'] + '.jpg')
        if real:
            # no tweet images are shipped offline: every sample must say so
            assert info['has_image'] is False
        else:
            # the demo set has pictures for some posts: each sample says whether its file is there
            flags = [ds.get_data_info(i)['has_image'] for i in range(len(ds))]
            assert flags == [osp.isfile(ds.get_data_info(i)['img_path']) for i in range(len(ds))]
            assert any(flags) and not all(flags)


def test_orphan_i_tags_are_repaired_counted_and_logged(mmlog):
    data_root = require_real_data('twitter2015/train.txt')  # the demo set has no orphan I- tags
    ds = TwitterNERDataset(ann_file='twitter2015/train.txt', entity_types=TYPES_2015,
                           data_root=data_root)
    line = [ln for ln in mmlog.lines if 'orphan I- tags' in ln][-1]
    repaired = int(line.split('repaired ')[1].split()[0])
    assert 100 < repaired < 1000  # "a few hundred" in Twitter-2015
    for i in range(len(ds)):
        tags = ds.get_data_info(i)['gt_tags']
        for prev, tag in zip(['O'] + tags, tags):
            assert not (tag.startswith('I-') and prev[2:] != tag[2:])
    kept = TwitterNERDataset(ann_file='twitter2015/train.txt', entity_types=TYPES_2015,
                             data_root=data_root, orphan_i='keep')
    n_orphans = sum(
        1 for i in range(len(kept)) for prev, tag in
        zip(['O'] + kept.get_data_info(i)['gt_tags'], kept.get_data_info(i)['gt_tags'])
        if tag.startswith('I-') and prev[2:] != tag[2:])
    assert n_orphans == repaired
    with pytest.raises(DataFormatError, match=r'train\.txt:\d+: I-'):
        TwitterNERDataset(ann_file='twitter2015/train.txt', entity_types=TYPES_2015,
                          data_root=data_root, orphan_i='error')


CONLL = 'IMGID:1\nEU\tB-ORG\nrejects\tO\nGerman\tB-MISC\ncall\tO\n\nIMGID:2\nPeter\tB-PER\nBlackburn\tI-PER\n'


def _ds(tmp_path, text, **kw):
    path = write(tmp_path / 'f.txt', text)
    kw.setdefault('entity_types', ('PER', 'ORG', 'MISC'))
    return TwitterNERDataset(ann_file=path, data_root=str(tmp_path), **kw)


def test_line_without_tab_names_file_and_line(tmp_path):
    with pytest.raises(DataFormatError, match=r'f\.txt:3: expected "token<TAB>tag"'):
        _ds(tmp_path, 'IMGID:1\nEU\tB-ORG\nrejects O\n')


def test_unknown_tag_names_file_and_line(tmp_path):
    with pytest.raises(DataFormatError, match=r"f\.txt:2: tag 'X-ORG' is not one of"):
        _ds(tmp_path, 'IMGID:1\nEU\tX-ORG\n')


def test_label_the_config_does_not_know(tmp_path):
    with pytest.raises(DataFormatError, match=r"f\.txt:4: tag 'B-MISC'.*add the type"):
        _ds(tmp_path, CONLL, entity_types=('PER', 'ORG'))


def test_empty_file(tmp_path):
    with pytest.raises(DataFormatError, match=r'f\.txt: no sentences'):
        _ds(tmp_path, '\n\n')


def test_sentence_without_tokens(tmp_path):
    with pytest.raises(DataFormatError, match=r'f\.txt:1: sentence IMGID:7 has no tokens'):
        _ds(tmp_path, 'IMGID:7\n\nIMGID:8\nhi\tO\n')


def test_types_from_data_when_config_gives_none(tmp_path):
    ds = _ds(tmp_path, CONLL, entity_types=None)
    assert ds.metainfo['entity_types'] == ('MISC', 'ORG', 'PER')


def test_missing_unreadable_and_present_images(tmp_path, tweet_image, mmlog):
    img_dir = tmp_path / 'imgs'
    img_dir.mkdir()
    shutil.copy(tweet_image, img_dir / '1.jpg')
    (img_dir / '2.jpg').write_bytes(b'\xff\xd8\xff\xe0 this is not a jpeg')
    text = CONLL + '\nIMGID:3\nhello\tO\n'
    ds = _ds(tmp_path, text, data_prefix=dict(img_path=str(img_dir)), pipeline=PIPELINE)
    assert [ds.get_data_info(i)['has_image'] for i in range(3)] == [True, False, False]
    out = '\n'.join(mmlog.lines)
    assert '1/3 samples have an image; 1 missing, 1 unreadable' in out
    assert 'is unreadable; the sample is kept' in out
    with_img, corrupt, missing = ds[0], ds[1], ds[2]
    assert tuple(with_img['inputs']['img'].shape) == (3, 64, 64)
    for item in (corrupt, missing):
        assert item['inputs']['img'] is None
        assert item['data_samples'].has_image is False
    sample = with_img['data_samples']
    assert isinstance(sample, PMUDataSample)
    assert sample.words == ['EU', 'rejects', 'German', 'call']
    assert sample.gt_tags == ['B-ORG', 'O', 'B-MISC', 'O']
