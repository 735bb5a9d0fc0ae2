"""The cache on disk: the shared record schema, part files, the merge and the file barrier."""
import json
import os
import re
import time

import pytest
from mmengine.config import Config

from pmu.pseudo_labels import cache
from pmu.pseudo_labels.cache import PartWriter, ShardFiles, ShardTimeoutError, SkippedPair
from pmu.structures import EntityRecord, ObjectRecord, PairRecord, PairRecordError, read_pair_records
from .conftest import ONNX_CONFIG, write_jsonl

LINE = ('{"index": 3, "id": "coco:1", "image": "val2017/1.jpg", "width": 640, "height": 383, '
        '"caption": "Un café naïve.", "match": false, '
        '"entities": [{"text": "Un café", "norm": "café", "label": "NOUN_CHUNK", "span": [0, 7]}], '
        '"objects": [{"box": [99.14, 154.83, 454.86, 235.0], "label": "cup", "score": 0.4046}, '
        '{"box": [1, 2, 3, 4], "label": "person", "score": 1}], "boxes_dropped": 2}')


def _record(index, pair_id, image='a.jpg', caption='A dog.'):
    return PairRecord(index=index, id=pair_id, image=image, width=10, height=8, caption=caption,
                      entities=[EntityRecord('A dog', 'dog', 'NOUN_CHUNK', [0, 5])],
                      objects=[ObjectRecord([0.0, 0.5, 9.0, 8.0], 'dog', 0.9)])


def test_record_round_trip_is_byte_exact():
    r = PairRecord.from_json(LINE, 'pairs.jsonl', 1)
    assert (r.index, r.id, r.match, r.boxes_dropped) == (3, 'coco:1', False, 2)
    assert r.entities[0].norm == 'café' and r.objects[1].box == [1, 2, 3, 4] and r.objects[0].score == 0.4046
    assert r.to_json() == LINE  # ints stay ints, floats keep their digits, non-ASCII stays as is
    assert PairRecord.from_json(r.to_json()) == r
    built = _record(0, 'p0')
    assert PairRecord.from_json(built.to_json()) == built


def test_match_defaults_to_true_and_unknown_keys_are_refused():
    d = json.loads(LINE)
    del d['match']
    assert PairRecord.from_dict(d).match is True
    d['Match'] = False  # was kept as an extra key: the pair trained as matched
    with pytest.raises(PairRecordError, match=r"x:1: unknown key 'Match'; did you mean 'match'\?"):
        PairRecord.from_dict(d, 'x:1')
    d = json.loads(LINE)
    d['entities'][0]['score'] = 0.5
    with pytest.raises(PairRecordError, match=r"x:1: entities\[0\]: unknown key 'score'"):
        PairRecord.from_dict(d, 'x:1')


@pytest.mark.parametrize('line, message', [
    ('{"index": 0', 'not valid JSON'),
    ('[1, 2]', 'expected a JSON object, not list'),
    (LINE.replace('"width": 640, ', ''), "missing key 'width'"),
    (LINE.replace('"match": false', '"match": "no"'), "'match' must be true or false, not 'no'"),
    (LINE.replace('"index": 3', '"index": "3"'), "'index' must be an integer >= 0"),
    (LINE.replace('"span": [0, 7]', '"span": [7, 0]'), "entities[0]: 'span' must be [start, end]"),
    (LINE.replace('[1, 2, 3, 4]', '[1, 2, 3]'), "objects[1]: 'box' must be [x1, y1, x2, y2]"),
    (LINE.replace('"score": 1}', '"score": NaN}'), "objects[1]: 'score' must be a finite number"),
])
def test_a_corrupt_line_names_file_and_line(tmp_path, line, message):
    path = tmp_path / 'pairs.jsonl'
    path.write_text(LINE + '\n\n' + line + '\n' + LINE + '\n', encoding='utf-8')
    with pytest.raises(PairRecordError, match=rf'pairs.jsonl:3: .*{re.escape(message)}'):
        list(read_pair_records(str(path)))


def test_not_utf8_line_names_file_and_line(tmp_path):
    path = tmp_path / 'pairs.jsonl'
    path.write_bytes(LINE.encode() + b'\n' + LINE.replace('café', 'caf\xe9').encode('latin-1') + b'\n')
    with pytest.raises(PairRecordError, match=r'pairs.jsonl:2: not (UTF-8|valid JSON)'):
        list(read_pair_records(str(path)))


def test_pretrain_dataset_reads_through_the_schema(tmp_path):
    from pmu.datasets import PretrainPairsDataset
    (tmp_path / 'pairs.jsonl').write_text(LINE + '\n', encoding='utf-8')
    ds = PretrainPairsDataset(str(tmp_path), num_objects=3)
    d = ds.get_data_info(0)
    assert d['pair_id'] == 'coco:1' and d['match'] is False and d['ori_size'] == (640, 383)
    assert d['gt_labels'] == ['cup', 'person', ''] and d['gt_boxes_valid'].tolist() == [True, True, False]
    (tmp_path / 'pairs.jsonl').write_text(LINE + '\n' + LINE.replace('"objects"', '"objs"') + '\n')
    with pytest.raises(PairRecordError, match=r"pairs.jsonl:2: unknown key 'objs'; did you mean 'objects'\?"):
        PretrainPairsDataset(str(tmp_path))


def test_parts_merge_in_corpus_order(tmp_path):
    work = str(tmp_path)
    index_of = {f'p{i}': i for i in range(6)}
    r0, r1 = ShardFiles(work, 0, 2), ShardFiles(work, 1, 2)
    with PartWriter(r1.pairs) as w:
        w.write([_record(5, 'p5'), _record(3, 'p3')])
    with PartWriter(r0.pairs) as w:
        w.write([_record(1, 'p1', caption='Cat.')])
        w.write([_record(0, 'p0')])
    with PartWriter(r0.skipped) as w:
        w.write([SkippedPair('p2', 'b.jpg', 'image_missing', 'no such file'),
                 SkippedPair('p1', 'a.jpg', 'image_corrupt', 'an earlier run; redone since')])
    # a resumed run with another world size redid p3: counted once, as a duplicate
    with PartWriter(ShardFiles(work, 0, 1).pairs) as w:
        w.write([_record(3, 'p3')])
    merged = cache.merge_parts(work, index_of)
    assert [r.id for r in merged.records] == ['p0', 'p1', 'p3', 'p5']
    assert [s.id for s in merged.skipped] == ['p2'] and merged.duplicates == 1
    cache.write_merged(work, merged)
    assert [r.id for r in cache.read_pairs(work)] == ['p0', 'p1', 'p3', 'p5']
    assert (tmp_path / 'skipped.jsonl').read_text().splitlines() == [merged.skipped[0].to_json()]
    assert not list(tmp_path.glob('*.tmp'))
    assert cache.finished_ids(cache.part_files(work)) == {'p0', 'p1', 'p2', 'p3', 'p5'}
    with pytest.raises(RuntimeError, match="pair 'p5' is not in the configured corpus"):
        cache.merge_parts(work, {f'p{i}': i for i in range(5)})


def test_a_killed_write_is_repaired_in_own_part_and_corruption_named(tmp_path):
    part = tmp_path / 'pairs.part-0-of-1.jsonl'
    good = _record(0, 'p0').to_json() + '\n'
    part.write_text(good + _record(1, 'p1').to_json()[:30], encoding='utf-8')  # the kill cut the last line
    assert [r.id for r in cache.read_part(str(part), PairRecord.from_dict)] == ['p0']
    assert part.read_text() != good  # another process's part: the tail is ignored, not touched
    cache.read_part(str(part), PairRecord.from_dict, repair=True)
    assert part.read_text() == good
    part.write_text('{"broken\n' + good, encoding='utf-8')
    with pytest.raises(PairRecordError, match=r'pairs.part-0-of-1.jsonl:1: corrupt cache line'):
        cache.read_part(str(part), PairRecord.from_dict)
    part.write_text(good.replace('"width": 10', '"width": 0') + good, encoding='utf-8')
    with pytest.raises(PairRecordError, match=r"part-0-of-1.jsonl:1: 'width' must be an integer > 0.*remove"):
        cache.read_part(str(part), PairRecord.from_dict)


def test_barrier_times_out_naming_the_missing_rank_and_its_part(tmp_path):
    work = str(tmp_path)
    for rank in (0, 2):
        cache.write_done(ShardFiles(work, rank, 3), dict(rank=rank, num_pairs=9))
    with PartWriter(ShardFiles(work, 1, 3).pairs) as w:
        w.write([_record(3, 'p3'), _record(4, 'p4')])
    start = time.monotonic()
    with pytest.raises(ShardTimeoutError) as info:
        cache.wait_for_done_markers(work, 3, 9, timeout=0.3, poll_interval=0.05)
    assert time.monotonic() - start < 5
    message = str(info.value)
    assert 'shards [1] of 3 did not finish within prepare.merge_timeout=0.3s' in message
    assert 'rank 1: no part-1-of-3.done (pairs.part-1-of-3.jsonl has 2 records' in message
    assert 'RANK=1 WORLD_SIZE=3' in message and '--resume' in message
    os.remove(ShardFiles(work, 1, 3).pairs)
    with pytest.raises(ShardTimeoutError, match='pairs.part-1-of-3.jsonl does not exist'):
        cache.wait_for_done_markers(work, 3, 9, timeout=0.1, poll_interval=0.05)
    cache.write_done(ShardFiles(work, 1, 3), dict(rank=1, num_pairs=9))
    assert [d['rank'] for d in cache.wait_for_done_markers(work, 3, 9, timeout=0)] == [0, 1, 2]
    with pytest.raises(RuntimeError, match='part-0-of-3.done: shard ran on a corpus of 9 pairs, this run has 10'):
        cache.wait_for_done_markers(work, 3, 10, timeout=0)


def test_rank0_of_a_run_gives_up_after_merge_timeout(tmp_path, val_images, monkeypatch):
    """The whole step, rank 0 of 2 with rank 1 never started: its shard is kept, the error names rank 1."""
    cfg = Config.fromfile(ONNX_CONFIG)
    cfg.dataset = dict(type='JsonlCaptionPairs', ann_file=write_jsonl(tmp_path / 'c.jsonl', [
        dict(image=val_images[0], caption='A man rides a horse.', id='a'),
        dict(image=val_images[1], caption='Two dogs.', id='b')]), allow_outside_images=True)
    cfg.prepare.update(merge_timeout=0.5, merge_poll_interval=0.1)
    monkeypatch.setenv('RANK', '0')
    monkeypatch.setenv('WORLD_SIZE', '2')
    from pmu.pseudo_labels.prepare import prepare
    with pytest.raises(ShardTimeoutError, match=r'shards \[1\] of 2 .*rank 1: no part-1-of-2.done'):
        prepare(cfg, str(tmp_path / 'work'))
    assert [r.id for r in cache.read_part(str(tmp_path / 'work' / 'pairs.part-0-of-2.jsonl'),
                                          PairRecord.from_dict)] == ['a']
    assert (tmp_path / 'work' / 'part-0-of-2.done').exists()
