import json

import pytest

from pmu.datasets.caption_pairs import CaptionFileError, CocoCaptionPairs, JsonlCaptionPairs, NewsClippingsPairs
from pmu.registry import DATASETS
from tests.conftest import write_jsonl


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
