"""Pre-training caches and preparation under faults: corrupt ``pairs.jsonl`` lines, part files cut
by a kill, ranks that never write their done marker, ``kill -9`` mid-run, bad captions.

Real parts: the cache reader and writer, the ONNX detector and spaCy of the preparation config,
``tools/prepare_pretrain.py`` as a subprocess, COCO-mini images.
"""
import json
import os
import os.path as osp
import signal
import subprocess
import sys
import threading
import time

import pytest
from mmengine.config import Config

from pmu.datasets import CaptionFileError, CocoCaptionPairs, DataFormatError, JsonlCaptionPairs, PretrainPairsDataset
from pmu.pseudo_labels import cache
from pmu.pseudo_labels.cache import PartWriter, ShardFiles, ShardTimeoutError
from pmu.structures import PairRecord, PairRecordError
from tests.conftest import MINILM, REPO, write_jsonl

ONNX_CONFIG = osp.join(REPO, 'configs', 'prepare', 'prepare_onnx-centernet_spacy_coco-mini.py')
LINE = json.dumps(dict(index=0, id='coco:1', image='a.jpg', width=640, height=383, caption='A man in a café.',
                       match=True, entities=[], objects=[], boxes_dropped=0), ensure_ascii=False)


def _record(i):
    return PairRecord.from_json(LINE.replace('"index": 0', f'"index": {i}').replace('coco:1', f'p{i}'))


def _tool_env():
    from pmu.pseudo_labels.paths import find_model_file
    from pmu.utils import find_data_root
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get('PYTHONPATH', ''), OMP_NUM_THREADS='1')
    env.setdefault('PMU_DATA_ROOT', osp.abspath(find_data_root()))
    env.setdefault('PMU_MODEL_ROOT', osp.dirname(osp.abspath(find_model_file('centernet-mobilenetv3-coco.onnx'))))
    return env


# ------------------------------------------------------------------------------------------ pairs.jsonl

@pytest.mark.parametrize('bad, message', [
    (LINE[:40], 'not valid JSON'),                                    # truncated line
    ('{"index": 1, oops}', 'not valid JSON'),                          # invalid JSON
    (LINE.replace('café', 'caf\udce9'), 'not UTF-8'),                 # latin-1 byte, written below as such
    (LINE.replace('"width": 640, ', ''), "missing key 'width'"),      # a field missing: named
    ('[1, 2]', 'expected a JSON object, not list'),
])
def test_corrupt_pairs_line_names_file_line_and_field(tmp_path, bad, message):
    raw = bad.encode('utf-8', 'surrogateescape')
    (tmp_path / 'pairs.jsonl').write_bytes(LINE.encode() + b'\n\n' + raw + b'\n' + LINE.encode() + b'\n')
    with pytest.raises(DataFormatError) as e:
        PretrainPairsDataset(str(tmp_path))
    assert str(e.value).startswith(f'{tmp_path / "pairs.jsonl"}:3: ')
    assert message in str(e.value) and '--resume' in str(e.value)
    assert isinstance(e.value, PairRecordError)  # callers catching the schema error still do


def test_missing_and_empty_cache(tmp_path):
    with pytest.raises(FileNotFoundError, match=r'pairs\.jsonl not found: run tools/prepare_pretrain.py first'):
        PretrainPairsDataset(str(tmp_path))
    (tmp_path / 'pairs.jsonl').write_text('\n')
    with pytest.raises(ValueError, match=r'pairs\.jsonl: no pairs left'):
        PretrainPairsDataset(str(tmp_path))


def test_part_cut_by_a_kill_is_repaired_and_a_corrupt_middle_line_named(tmp_path):
    part = tmp_path / 'pairs.part-0-of-1.jsonl'
    good = _record(0).to_json() + '\n'
    part.write_text(good + _record(1).to_json()[:25], encoding='utf-8')
    assert cache.finished_ids([str(part)], own=(str(part),)) == {'p0'}
    assert part.read_text(encoding='utf-8') == good  # own part: cut back to its last whole line
    part.write_text(good + '{"broken\n' + good, encoding='utf-8')
    with pytest.raises(PairRecordError, match=r'pairs\.part-0-of-1\.jsonl:2: corrupt cache line'):
        cache.finished_ids([str(part)])


# ------------------------------------------------------------------------------------------ the barrier

def test_missing_done_marker_gives_up_when_the_rank_stops_progressing(tmp_path):
    work = str(tmp_path)
    cache.write_done(ShardFiles(work, 0, 2), dict(rank=0, num_pairs=4))
    with PartWriter(ShardFiles(work, 1, 2).pairs) as w:
        w.write([_record(2)])
    start = time.monotonic()
    with pytest.raises(ShardTimeoutError) as e:
        cache.wait_for_done_markers(work, 2, 4, timeout=3600, poll_interval=0.05, stall_timeout=0.3)
    assert 0.3 <= time.monotonic() - start < 5
    message = str(e.value)
    assert 'shards [1] of 2 made no progress for 0s (prepare.merge_stall_timeout=0.3s, or $PMU_PREPARE_TIMEOUT)' \
        in message
    assert 'rank 1: no part-1-of-2.done (pairs.part-1-of-2.jsonl has 1 records' in message
    assert 'RANK=1 WORLD_SIZE=2' in message


def test_a_rank_that_keeps_writing_is_waited_for(tmp_path):
    work = str(tmp_path)
    cache.write_done(ShardFiles(work, 0, 2), dict(rank=0, num_pairs=4))
    files = ShardFiles(work, 1, 2)

    def slow_rank():  # 8 records, one every 0.1 s: longer than the stall limit in all, never stalled
        with PartWriter(files.pairs) as w:
            for i in range(8):
                time.sleep(0.1)
                w.write([_record(i)])
        cache.write_done(files, dict(rank=1, num_pairs=4))

    thread = threading.Thread(target=slow_rank)
    thread.start()
    found = cache.wait_for_done_markers(work, 2, 4, timeout=60, poll_interval=0.02, stall_timeout=0.5)
    thread.join()
    assert [d['rank'] for d in found] == [0, 1]


def _two_pair_config(tmp_path, coco_mini):
    folder = osp.join(coco_mini, 'val2017')
    images = [osp.join(folder, f) for f in sorted(os.listdir(folder))[:2]]
    cfg = Config.fromfile(ONNX_CONFIG)
    cfg.dataset = dict(type='JsonlCaptionPairs', ann_file=write_jsonl(tmp_path / 'c.jsonl', [
        dict(image=images[0], caption='A man rides a horse.', id='a'),
        dict(image=images[1], caption='Two dogs.', id='b')]), allow_outside_images=True)
    cfg.prepare.update(merge_poll_interval=0.05)
    return cfg


def test_rank0_with_rank1_never_started_stops_after_pmu_prepare_timeout(tmp_path, coco_mini, monkeypatch):
    from pmu.pseudo_labels.prepare import prepare
    cfg = _two_pair_config(tmp_path, coco_mini)
    monkeypatch.setenv('RANK', '0')
    monkeypatch.setenv('WORLD_SIZE', '2')
    monkeypatch.setenv('PMU_PREPARE_TIMEOUT', '0.5')
    start = time.monotonic()
    with pytest.raises(ShardTimeoutError, match=r'shards \[1\] of 2 made no progress for \d+s \(prepare\.merge_stall_'
                       r'timeout=0\.5s.*rank 1: no part-1-of-2\.done \(pairs\.part-1-of-2\.jsonl does not exist'):
        prepare(cfg, str(tmp_path / 'work'))
    assert time.monotonic() - start < 120
    assert [r.id for r in cache.read_part(str(tmp_path / 'work' / 'pairs.part-0-of-2.jsonl'),
                                          PairRecord.from_dict)] == ['a']  # rank 0's shard is kept


def test_pmu_prepare_timeout_must_be_a_number(tmp_path, coco_mini, monkeypatch):
    from pmu.pseudo_labels.run import PreparationRun
    monkeypatch.setenv('PMU_PREPARE_TIMEOUT', '10 min')
    with pytest.raises(ValueError, match=r"\$PMU_PREPARE_TIMEOUT must be a number of seconds, not '10 min'"):
        PreparationRun(_two_pair_config(tmp_path, coco_mini), str(tmp_path / 'work'))


@pytest.mark.slow
def test_kill_9_mid_preparation_then_resume_loses_and_duplicates_nothing(tmp_path, coco_mini):
    n = 60
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(f"_base_ = '{ONNX_CONFIG}'\n"
                   "dataset = dict(_delete_=True, type='CocoCaptionPairs', "
                   "ann_file='coco-mini/annotations/captions_val2017.json', "
                   f"data_prefix=dict(img='coco-mini/val2017'), indices={n})\n"
                   "prepare = dict(batch_size=4)\n")
    work = tmp_path / 'work'
    part = work / 'pairs.part-0-of-1.jsonl'
    tool = [sys.executable, osp.join(REPO, 'tools', 'prepare_pretrain.py'), str(cfg), '--work-dir', str(work)]
    proc = subprocess.Popen(tool, env=_tool_env(), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if part.exists() and part.read_bytes().count(b'\n') >= 8:
            break
        time.sleep(0.02)
    assert proc.poll() is None, 'the run finished before it could be killed'
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed = part.read_bytes()
    kept = killed[:killed.rfind(b'\n') + 1]
    n_kept = kept.count(b'\n')
    assert 8 <= n_kept < n and not (work / 'pairs.jsonl').exists()

    resumed = subprocess.run(tool + ['--resume'], env=_tool_env(), cwd=REPO, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f'{n_kept} already done, {n - n_kept} to do' in resumed.stdout
    assert part.read_bytes().startswith(kept)
    records = [json.loads(line) for line in (work / 'pairs.jsonl').read_text(encoding='utf-8').splitlines()]
    skipped = (work / 'skipped.jsonl').read_text().splitlines()
    ids = [r['id'] for r in records]
    assert len(ids) == len(set(ids)) and len(ids) + len(skipped) == n   # none lost, none twice
    assert [r['index'] for r in records] == sorted(r['index'] for r in records)
    summary = json.loads((work / 'summary.json').read_text())
    assert summary['unaccounted'] == 0 and summary['duplicate_records_merged'] == 0


# ------------------------------------------------------------------------------------------ captions

def test_jsonl_bad_captions_are_counted_and_none_lost(tmp_path):
    long_caption = 'word ' * 20_000
    path = write_jsonl(tmp_path / 'c.jsonl', [
        dict(image='a.jpg', caption='A dog.'),
        dict(image='a.jpg', caption=''),              # kept: the preparation skips it as caption_empty
        dict(image='a.jpg', caption=None),            # not a string
        dict(image='a.jpg', caption=['A', 'dog']),    # not a string
        dict(image='a.jpg'),                          # no caption
        dict(image='a.jpg', caption=long_caption),    # kept whole; tokenisation truncates it
    ])
    ds = JsonlCaptionPairs(ann_file=path, data_root=str(tmp_path))
    assert [ds.get_data_info(i)['caption'] for i in range(len(ds))] == ['A dog.', '', long_caption]
    assert ds.skipped == {'missing_field': 3}
    assert ds.skipped_examples[0].startswith(f'{path}:3: missing_field:')
    assert len(ds) + sum(ds.skipped.values()) == 6
    from pmu.datasets.transforms import TokenizeWords
    assert len(TokenizeWords(MINILM, max_length=32)(dict(words=long_caption.split()))['input_ids']) == 32
    with pytest.raises(CaptionFileError, match=r'c\.jsonl:3: missing_field'):
        JsonlCaptionPairs(ann_file=path, data_root=str(tmp_path), on_bad_line='raise')


def test_coco_caption_that_is_not_a_string_is_counted(tmp_path):
    ann = dict(images=[dict(id=1, file_name='a.jpg')],
               annotations=[dict(id=10, image_id=1, caption='A cat.'), dict(id=11, image_id=1, caption=7),
                            dict(id=12, image_id=2, caption='Unknown image.')])
    (tmp_path / 'captions_x.json').write_text(json.dumps(ann))
    ds = CocoCaptionPairs(ann_file='captions_x.json', data_root=str(tmp_path))
    assert [ds.get_data_info(i)['pair_id'] for i in range(len(ds))] == ['coco:10']
    assert ds.skipped == {'missing_field': 1, 'unknown_image_id': 1}
