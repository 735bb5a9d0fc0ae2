import csv
import json
import os
import os.path as osp
from collections import Counter

import pytest

from pmu.datasets.caption_pairs import (
    CaptionFileError,
    CocoCaptionPairs,
    Flickr8kCaptionPairs,
    JsonlCaptionPairs,
    NewsClippingsPairs,
)
from pmu.registry import DATASETS
from tests.conftest import require_real_data, write_jsonl


def test_coco_captions_one_pair_per_caption(coco_mini):
    ds = DATASETS.build(dict(type='CocoCaptionPairs', ann_file='coco-mini/annotations/captions_val2017.json',
                             data_prefix=dict(img='coco-mini/val2017')))
    assert isinstance(ds, CocoCaptionPairs) and len(ds) == 395
    first = ds.get_data_info(0)
    assert first['match'] is True and first['pair_id'].startswith('coco:') and first['img_path'].endswith('.jpg')
    assert ds.instances_file.endswith('instances_val2017.json')
    # the five captions of an image are consecutive
    assert len({ds.get_data_info(i)['img_path'] for i in range(5)}) == 1


def test_jsonl_bad_lines_skipped_and_counted_or_raised(tmp_path):
    rows = [dict(image='a.jpg', caption='A dog.'),
            b'{"image": "b.jpg", "caption": "cut',
            '{"image": "c.jpg", "caption": "caf\xe9"}'.encode('latin-1'),
            dict(image='d.jpg'),
            dict(image='e.jpg', caption='Mismatched.', match=False, id='x7')]
    path = write_jsonl(tmp_path / 'pairs.jsonl', rows)
    ds = JsonlCaptionPairs(ann_file=path)
    assert [ds.get_data_info(i)['pair_id'] for i in range(len(ds))] == ['pairs.jsonl:1', 'x7']
    assert ds.get_data_info(1)['match'] is False
    assert ds.get_data_info(0)['img_path'] == str(tmp_path / 'a.jpg')
    assert ds.skipped == {'bad_json': 1, 'not_utf8': 1, 'missing_field': 1}
    assert any(e.startswith(f'{path}:2: bad_json') for e in ds.skipped_examples)
    with pytest.raises(CaptionFileError, match=r'pairs.jsonl:2: bad_json'):
        JsonlCaptionPairs(ann_file=path, on_bad_line='raise')


def test_newsclippings_pairs_keep_falsified_as_negatives(tmp_path):
    visual_news = [dict(id=1, caption='Obama speaks in Berlin.', image_path='./bbc/images/1.jpg'),
                   dict(id=2, caption='A flood in Texas.', image_path='./bbc/images/2.jpg')]
    (tmp_path / 'data.json').write_text(json.dumps(visual_news))
    anns = dict(annotations=[dict(id=1, image_id=1, similarity_score=0.9, falsified=False, source_dataset=0),
                             dict(id=1, image_id=2, similarity_score=0.4, falsified=True, source_dataset=0),
                             dict(id=3, image_id=2, falsified=False)])
    (tmp_path / 'val.json').write_text(json.dumps(anns))
    ds = NewsClippingsPairs(ann_file='val.json', visual_news_file='data.json', data_root=str(tmp_path))
    pairs = [ds.get_data_info(i) for i in range(len(ds))]
    assert [(p['caption'], p['img_path'].split('/')[-1], p['match']) for p in pairs] == [
        ('Obama speaks in Berlin.', '1.jpg', True), ('Obama speaks in Berlin.', '2.jpg', False)]
    assert ds.skipped == {'unknown_visual_news_id': 1}


def test_unreadable_caption_file_names_it(tmp_path):
    (tmp_path / 'captions.json').write_bytes(b'\xff\xfe not json')
    with pytest.raises(CaptionFileError, match='captions.json: not a UTF-8 JSON file'):
        CocoCaptionPairs(ann_file='captions.json', data_root=str(tmp_path))


# ------------------------------------------------------------------------------------------ Flickr8k

FLICKR8K_FILES = ('flickr8k/captions.txt', 'flickr8k/Images', 'flickr8k/Flickr_8k.trainImages.txt',
                  'flickr8k/Flickr_8k.devImages.txt', 'flickr8k/Flickr_8k.testImages.txt')


def _flickr8k(split, **kwargs):
    return Flickr8kCaptionPairs(ann_file='flickr8k/captions.txt', data_prefix=dict(img='flickr8k/Images'),
                                split_file=f'flickr8k/Flickr_8k.{split}Images.txt' if split else None, **kwargs)


@pytest.mark.parametrize('split, images', [('train', 6091), ('dev', 1000), ('test', 1000)])
def test_flickr8k_real_splits_five_captions_each(split, images):
    require_real_data(*FLICKR8K_FILES)
    ds = _flickr8k(split)
    pairs = [ds.get_data_info(i) for i in range(len(ds))]
    per_image = Counter(p['img_id'] for p in pairs)
    assert len(per_image) == images and set(per_image.values()) == {5} and len(ds) == 5 * images
    assert not ds.skipped and not ds.repaired and ds.outside_split == 40455 - 5 * images
    assert all(p['match'] and p['caption'] and p['caption'] == p['caption'].strip() for p in pairs)
    first = pairs[0]
    assert first['pair_id'] == f"flickr8k:{first['img_id']}#0" and osp.isfile(first['img_path'])
    # an image's five captions are consecutive, numbered 0..4
    assert [p['pair_id'].rsplit('#', 1)[1] for p in pairs[:5]] == ['0', '1', '2', '3', '4']
    assert len({p['img_path'] for p in pairs[:5]}) == 1


def test_flickr8k_real_captions_read_the_same_in_the_token_layout(tmp_path):
    """The CSV and the original Flickr8k.token.txt layout of the same captions give the same pairs."""
    root = require_real_data(*FLICKR8K_FILES)
    csv_pairs = _flickr8k(None)
    numbered = Counter()
    with open(osp.join(root, 'flickr8k', 'captions.txt'), encoding='utf-8') as f, \
            open(tmp_path / 'Flickr8k.token.txt', 'w', encoding='utf-8') as out:
        for image, caption in list(csv.reader(f))[1:]:
            out.write(f'{image}#{numbered[image]}\t{caption}\n')
            numbered[image] += 1
    token_pairs = Flickr8kCaptionPairs(ann_file=str(tmp_path / 'Flickr8k.token.txt'),
                                       data_prefix=dict(img=osp.join(root, 'flickr8k', 'Images')),
                                       split_file=osp.join(root, 'flickr8k', 'Flickr_8k.testImages.txt'))
    assert len(csv_pairs) == 40455 and len(token_pairs) == 5000
    by_id = {p['pair_id']: p for p in (csv_pairs.get_data_info(i) for i in range(len(csv_pairs)))}
    for i in range(len(token_pairs)):
        p = token_pairs.get_data_info(i)
        assert p['caption'] == by_id[p['pair_id']]['caption']
        assert osp.samefile(p['img_path'], by_id[p['pair_id']]['img_path'])


def _flickr_root(tmp_path, captions: bytes, split=('a.jpg', 'b.jpg', 'c.jpg')):
    (tmp_path / 'Images').mkdir()
    for name in ('a.jpg', 'b.jpg', 'c.jpg'):
        (tmp_path / 'Images' / name).write_bytes(b'')
    (tmp_path / 'outside.jpg').write_bytes(b'')
    os.symlink(tmp_path / 'outside.jpg', tmp_path / 'Images' / 'link.jpg')
    (tmp_path / 'captions.txt').write_bytes(captions)
    (tmp_path / 'split.txt').write_text(''.join(f'{name}\n' for name in split))
    return dict(ann_file='captions.txt', split_file='split.txt', data_root=str(tmp_path))


def test_flickr8k_csv_bad_lines_skipped_repaired_or_raised(tmp_path):
    lines = [b'\xef\xbb\xbfimage,caption',                       # 1 header behind a BOM
             b'a.jpg,A dog runs .',                              # 2
             b'a.jpg,"A dog, brown, runs ."',                    # 3 quoted commas
             b'a.jpg,A dog , wet , runs .',                      # 4 unquoted commas: repaired
             b'a.jpg,"A dog runs',                               # 5 quote never closed
             b'a.jpg',                                           # 6 no caption
             'b.jpg,caf\xe9'.encode('latin-1'),                  # 7 not UTF-8
             b'../outside.jpg,Out of the folder .',              # 8
             b'link.jpg,A link out of the folder .',             # 9
             b'image,caption',                                   # 10 a second header: repaired
             b'',                                                # 11 blank
             b'b.jpg,A cat sits .\r',                            # 12 CRLF
             b'z.jpg,Not in the split .']                        # 13
    args = _flickr_root(tmp_path, b'\n'.join(lines) + b'\n',
                        split=('a.jpg', 'b.jpg', 'c.jpg', '../outside.jpg', 'link.jpg'))
    ds = Flickr8kCaptionPairs(**args)
    pairs = [ds.get_data_info(i) for i in range(len(ds))]
    assert [(p['pair_id'], p['caption']) for p in pairs] == [
        ('flickr8k:a.jpg#0', 'A dog runs .'), ('flickr8k:a.jpg#1', 'A dog, brown, runs .'),
        ('flickr8k:a.jpg#2', 'A dog , wet , runs .'), ('flickr8k:b.jpg#0', 'A cat sits .')]
    assert pairs[0]['img_path'] == str(tmp_path / 'Images' / 'a.jpg')
    assert ds.skipped == dict(bad_csv=1, missing_field=1, not_utf8=1, image_outside_folder=2, no_captions=1)
    assert ds.repaired == dict(unquoted_comma=1, repeated_header=1) and ds.outside_split == 1
    captions = str(tmp_path / 'captions.txt')
    assert f'{captions}:4: unquoted_comma' in ds.repaired_examples[0]
    assert any(e.startswith(f'{captions}:5: bad_csv') for e in ds.skipped_examples)
    assert any(e.startswith(f"{tmp_path / 'split.txt'}:3: no_captions") for e in ds.skipped_examples)
    with pytest.raises(CaptionFileError, match=r'captions.txt:5: bad_csv'):
        Flickr8kCaptionPairs(on_bad_line='raise', **args)


def test_flickr8k_token_layout_bad_lines(tmp_path):
    lines = [b'a.jpg#0\tA dog runs .',
             b'a.jpg#1    A dog , wet , runs .',                 # spaces for the tab: repaired
             b'a.jpg#1\tThe same id again .',                    # duplicate id
             b'a.jpg\tNo caption number .',                      # not <image>#<n>
             b'a.jpg#x\tA letter for a number .',
             b'no separator at all',
             b'/etc/passwd#0\tAn absolute path .',
             b'c.jpg#4\tOnly the fifth caption .']               # ids as the file gives them
    args = _flickr_root(tmp_path, b'\n'.join(lines) + b'\n', split=('a.jpg', 'c.jpg'))
    ds = Flickr8kCaptionPairs(**args)
    assert [ds.get_data_info(i)['pair_id'] for i in range(len(ds))] == [
        'flickr8k:a.jpg#0', 'flickr8k:a.jpg#1', 'flickr8k:c.jpg#4']
    assert ds.get_data_info(1)['caption'] == 'A dog , wet , runs .'
    assert ds.skipped == dict(duplicate_id=1, bad_caption_id=2, missing_field=1)
    assert ds.repaired == dict(space_for_tab=1) and ds.outside_split == 1  # /etc/passwd is not in the split
    with pytest.raises(CaptionFileError, match=r'captions.txt:3: duplicate_id: flickr8k:a.jpg#1 already at '
                                               r'.*captions.txt:2'):
        Flickr8kCaptionPairs(on_bad_line='raise', **args)
    # without a split every image counts; the absolute path is refused
    everything = Flickr8kCaptionPairs(ann_file='captions.txt', data_root=str(tmp_path))
    assert everything.skipped['image_outside_folder'] == 1
    with pytest.raises(ValueError, match='layout must be one of'):
        Flickr8kCaptionPairs(layout='json', **args)
    with pytest.raises(FileNotFoundError, match='missing.txt not found'):
        Flickr8kCaptionPairs(ann_file='captions.txt', split_file='missing.txt', data_root=str(tmp_path))
