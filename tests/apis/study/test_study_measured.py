"""What a study measured: the images, captions and training subset each run read (from its logs),
and the flags on rows that are identical to the reference or ablate images on data without any.

The configs are the real ones of configs/mner and configs/orthogonality; the data is the demo set
(40 train / 12 valid posts, 5 + 2 with a picture) or a copy of it without the pictures.
"""
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import textwrap

import pytest

from pmu.apis.study import (
    build_summary,
    config_difference,
    data_plan,
    find_flags,
    flatten_config,
    is_image_side,
    load_study,
    parse_data_lines,
    render_markdown,
    write_summary,
)
from tests.conftest import DEMO_DATA, REPO, write

PROMU = 'configs/mner/promu_minilm-effnet_twitter2017.py'
TEXT = 'configs/mner/textonly_minilm_twitter2017.py'
TEXT_BLIP2 = 'configs/mner/textonly_minilm_twitter2017_cap-blip2.py'
HVPNET = 'configs/orthogonality/hvpnet_minilm-effnet_twitter2017.py'
HVPNET_FROM_PROMU = 'configs/orthogonality/hvpnet_minilm-effnet_twitter2017_from-promu.py'
UMT = 'configs/orthogonality/umt_minilm-effnet_twitter2017.py'


@pytest.fixture(autouse=True)
def in_repo(monkeypatch):
    monkeypatch.chdir(REPO)  # study configs name model configs relative to the repository


def data_options(root):
    return {f'{split}_dataloader.dataset.data_root': str(root) for split in ('train', 'val', 'test')}


def imageless_demo(tmp_path):
    """The demo tweets without their pictures: every post names an image, none is there."""
    root = tmp_path / 'data'
    shutil.copytree(osp.join(DEMO_DATA, 'twitter2017'), root / 'twitter2017')
    return root


def make_study(tmp_path, rows, reference='promu', options=None):
    body = f'''\
        work_dir = {str(tmp_path / 'wd')!r}
        metric = 'ner/f1'
        reference = {reference!r}
        seeds = [0, 1]
        cfg_options = {options or {}!r}
        rows = {[dict(name=n, config=c) for n, c in rows]!r}
    '''
    return load_study(write(tmp_path / 'study.py', textwrap.dedent(body)))


def result(row, seed, f1, data=None, **extra):
    metrics = {'val': {'ner/f1': f1, 'ner/precision': f1 + 1, 'ner/PER/f1': f1 + 2, **extra}}
    return dict(row=row, seed=seed, status='ok', metrics=metrics, commands={}, data=data)


def recorded(images_train, images_val):
    return {'train': dict(file='x/twitter2017/train.txt', posts=3373, images=images_train),
            'val': dict(file='x/twitter2017/valid.txt', posts=723, images=images_val)}


# --------------------------------------------------------------------------- the config difference

def test_image_side_keys_of_real_configs():
    promu, hvpnet = data_plan(PROMU, {}), data_plan(HVPNET, {})
    assert config_difference(hvpnet, promu) == ['model.fusion.num_layers', 'model.fusion.type']
    text = config_difference(data_plan(TEXT, {}), promu)
    assert 'model.visual_encoder.type' in text and all(is_image_side(k) for k in text)
    # initialising from the PROMU student touches the text encoder too: not image-side only
    from_promu = config_difference(data_plan(HVPNET_FROM_PROMU, {}), promu)
    assert 'model.pretrained.checkpoint' in from_promu
    assert not all(is_image_side(k) for k in from_promu)
    # a caption source is text-side: the caption is a second text segment
    captions = config_difference(data_plan(TEXT_BLIP2, {}), data_plan(TEXT, {}))
    assert captions and not any(is_image_side(k) for k in captions)
    # options count as config: a row's data root is no image-side change
    moved = config_difference(data_plan(HVPNET, {'val_dataloader.dataset.data_root': '/x'}), promu)
    assert 'val_dataloader.dataset.data_root' in moved and not all(is_image_side(k) for k in moved)


def test_a_load_image_step_is_image_side_and_shifts_no_other_step():
    cfg = data_plan(PROMU, {}).cfg.to_dict()
    pipeline = cfg['train_dataloader']['dataset']['pipeline']
    assert any(step['type'] == 'LoadImage' for step in pipeline)
    without = [step for step in pipeline if step['type'] != 'LoadImage']
    a = flatten_config({'train_dataloader': {'dataset': {'pipeline': pipeline}}})
    b = flatten_config({'train_dataloader': {'dataset': {'pipeline': without}}})
    diff = sorted(k for k in set(a) | set(b) if a.get(k, 'absent') != b.get(k, 'absent'))
    assert diff and all(k.startswith('train_dataloader.dataset.pipeline.image.LoadImage')
                        for k in diff)
    assert all(is_image_side(k) for k in diff)
    assert not is_image_side('train_dataloader.dataset.pipeline.0.type')
    assert is_image_side('model.image_size') and is_image_side('val_dataloader.dataset.data_prefix.img_path')


# --------------------------------------------------------------------------- the flags

def test_identical_rows_are_flagged_only_when_every_shared_seed_matches(tmp_path):
    study = make_study(tmp_path, [('promu', PROMU), ('copy', PROMU), ('near', PROMU),
                                  ('half', PROMU)])
    results = {'promu': [result('promu', 0, 80.0), result('promu', 1, 81.0)],
               'copy': [result('copy', 0, 80.0), result('copy', 1, 81.0)],
               # the headline metric equal, one per-type metric not: a different model
               'near': [result('near', 0, 80.0), result('near', 1, 81.0, **{'ner/PER/f1': 1.0})],
               # seed 1 not finished: the finished seed decides
               'half': [result('half', 0, 80.0),
                        dict(row='half', seed=1, status='pending', metrics={}, commands={})]}
    flags = find_flags(study, results)
    assert [(f['row'], f['kind']) for f in flags] == [('copy', 'identical'), ('half', 'identical')]
    assert 'seed(s) 0, 1:' in flags[0]['reason'] and 'seed(s) 0:' in flags[1]['reason']
    md = render_markdown(build_summary(study, results))
    assert '⚠ `copy`: every reported metric equals the reference `promu`' in md
    assert '⚠ `near`' not in md


def test_image_side_rows_on_data_without_images_are_flagged_from_the_recorded_counts(tmp_path):
    study = make_study(tmp_path, [('promu', PROMU), ('hvpnet', HVPNET), ('umt', UMT),
                                  ('hvpnet_from-promu', HVPNET_FROM_PROMU),
                                  ('textonly_cap-blip2', TEXT_BLIP2)])
    none, some = recorded(0, 0), recorded(12, 3)
    results = {name: [result(name, 0, 80.0 + i, data=none), result(name, 1, 81.0 + i, data=none)]
               for i, name in enumerate(r.name for r in study.rows)}
    results['umt'][1]['data'] = some  # one seed of umt saw images: no flag
    flags = find_flags(study, results)
    assert [(f['row'], f['kind']) for f in flags] == [('hvpnet', 'no_images')]
    assert flags[0]['keys'] == ['model.fusion.num_layers', 'model.fusion.type']
    md = render_markdown(build_summary(study, results))
    assert ('⚠ `hvpnet`: differs from the reference `promu` only in image-side keys '
            '(`model.fusion.num_layers`, `model.fusion.type`), and no post of its data had an image '
            '(train 0/3373, val 0/723)') in md
    table = {line.split('|')[1].strip(): line for line in md.split('\n\n')[2].splitlines()[2:]}
    assert '| 0/3373, 0/723 |' in table['`hvpnet`']
    assert '0: 0/3373, 0/723; 1: 12/3373, 3/723' in table['`umt`']


def test_without_recorded_counts_the_data_as_it_is_now_decides(tmp_path):
    options = data_options(imageless_demo(tmp_path))
    study = make_study(tmp_path, [('promu', PROMU), ('hvpnet', HVPNET), ('textonly', TEXT)],
                       options=options)
    results = {r.name: [result(r.name, 0, 80.0 + i)] for i, r in enumerate(study.rows)}
    flags = find_flags(study, results)
    assert [(f['row'], f['kind']) for f in flags] == [('hvpnet', 'no_images'),
                                                      ('textonly', 'no_images')]
    assert ('no post of its data has an image now (train 0/40, val 0/12; its runs did not record '
            'their counts)') in flags[0]['reason']
    md = render_markdown(build_summary(study, results))
    assert '| `hvpnet` | 1 | 81.00 ± 0.00 | +1.00 | unknown |' in md  # nothing invented

    # the demo data with its pictures: nothing to flag
    study = make_study(tmp_path, [('promu', PROMU), ('hvpnet', HVPNET)],
                       options=data_options(DEMO_DATA))
    assert find_flags(study, {r.name: [result(r.name, 0, 80.0 + i)]
                              for i, r in enumerate(study.rows)}) == []


def test_a_pretraining_study_has_no_post_counts(tmp_path):
    """Pre-training trains on the pairs of a pseudo-label cache, not on posts of an annotation file:
    its table has no 'images' column of 'unknown' cells and no footnote about posts."""
    pretrain = [('offline', 'configs/pretrain/promu_minilm-effnet_coco-mini.py'),
                ('online', 'configs/pretrain/promu_minilm-effnet_coco-mini_online-labels.py')]
    study = make_study(tmp_path, pretrain, reference='offline')
    md = render_markdown(build_summary(study, {r.name: [result(r.name, 0, 29.9 + i)]
                                               for i, r in enumerate(study.rows)}))
    assert 'images (train, val)' not in md and 'unknown' not in md and 'posts' not in md
    assert '| `online` | 1 | 30.90 ± 0.00 | +1.00 | 0: 30.90, 1: pending |' in md
    # one row of a study on posts brings the column back, 'unknown' for what was not recorded
    study = make_study(tmp_path, pretrain + [('promu', PROMU)], reference='offline')
    md = render_markdown(build_summary(study, {r.name: [result(r.name, 0, 29.9 + i)]
                                               for i, r in enumerate(study.rows)}))
    assert '| images (train, val) |' in md and '| +2.00 | unknown |' in md


# --------------------------------------------------------------------------- the recording

def test_missing_log_lines_are_unknown_not_errors():
    plan = data_plan(TEXT_BLIP2, {'train_dataloader.dataset.indices': 64})
    lines = [
        '12/06 16:29:28 - mmengine - INFO - ../shared/data/twitter2017/train.txt: 0/3373 samples '
        'have an image; 3373 missing, 0 unreadable (kept, run text-only with the visual side masked out)',
        '12/06 16:29:28 - mmengine - INFO - ../shared/data/twitter2017/valid.txt: 700/723 samples '
        'have a caption (BLIP-2, colon file x: 4000 captions); 23 without one run without the caption '
        'segment',
        'a line of something else: 3/4 samples',
    ]
    data = parse_data_lines(lines, plan)
    assert data['train'] == dict(file='../shared/data/twitter2017/train.txt', posts=3373, images=0,
                                 captions=None, caption_source=None, used=None)
    assert data['val'] == dict(file='../shared/data/twitter2017/valid.txt', posts=723, images=None,
                               captions=700, caption_source='BLIP-2')
    assert parse_data_lines([], data_plan(TEXT, {}))['train'] == dict(file=None, posts=None,
                                                                     images=None)


def test_committed_studies_summarise_with_unknown_counts(tmp_path):
    """The committed results hold result.json files only: a count the run did not record is
    'unknown' (a later run's recorded counts stand beside it, per seed), and the orthogonality
    study's image-side rows are flagged from the data (here: without pictures)."""
    for name in ('orthogonality_minilm-effnet_twitter2017', 'captions_minilm_twitter2017'):
        shutil.copytree(osp.join(REPO, 'results', 'studies', name), tmp_path / name)
    env = dict(os.environ, OMP_NUM_THREADS='1', PMU_DATA_ROOT=str(imageless_demo(tmp_path)))
    for name in ('orthogonality_minilm-effnet_twitter2017', 'captions_minilm_twitter2017'):
        r = subprocess.run([sys.executable, 'tools/study.py', f'configs/studies/{name}.py',
                            '--summarise', '--work-dir', str(tmp_path / name)],
                           cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr[-3000:]
    md = (tmp_path / 'orthogonality_minilm-effnet_twitter2017' / 'study.md').read_text()
    flagged = [line.split('`')[1] for line in md.splitlines() if line.startswith('⚠')]
    assert flagged == ['textonly', 'hvpnet', 'umt']
    assert '| `promu` | 3 | 83.66 ± 0.05 | ref. | unknown |' in md
    md = (tmp_path / 'captions_minilm_twitter2017' / 'study.md').read_text()
    assert '| images (train, val) | captions (train, val) |' in md
    # a row's seeds run by different code: seed 0 recorded no counts, the later seeds did
    assert '| ref. | 0: unknown; 1: 0/3373, 0/723' in md
    assert '| 0: unknown; 1: 3373/3373, 723/723 (BLIP-2); 2: 3373/3373, 723/723 (BLIP-2) |' in md
    assert '⚠' not in md
    data = json.loads((tmp_path / 'captions_minilm_twitter2017' / 'study.json').read_text())
    assert data['rows'][1]['data']['0']['train'] == dict(file=None, posts=None, images=None,
                                                        captions=None, caption_source=None)


@pytest.mark.slow
def test_a_real_run_records_images_captions_and_subset(tmp_path):
    data = tmp_path / 'data'
    shutil.copytree(DEMO_DATA, data)
    # BLIP-2 captions of three training posts and one validation post
    write(data / 'captions' / 'twitter2017_blip2.txt',
          'demo_train_1.jpg :a man on a stage\ndemo_train_2.jpg :a dog\n'
          'demo_train_3.jpg :a city at night\ndemo_valid_1.jpg :a football match\n')
    options = {'train_cfg.max_epochs': 1, 'train_dataloader.dataset.indices': 16,
               'train_dataloader.batch_size': 4}
    for split in ('train', 'val', 'test'):
        options.update({f'{split}_dataloader.dataset.data_root': str(data),
                        f'{split}_dataloader.num_workers': 0,
                        f'{split}_dataloader.persistent_workers': False})
    path = write(tmp_path / 'study.py', textwrap.dedent(f'''\
        work_dir = {str(tmp_path / 'wd')!r}
        metric = 'ner/f1'
        seeds = [0]
        cfg_options = {options!r}
        rows = [dict(name='cap', config={TEXT_BLIP2!r})]
    '''))
    r = subprocess.run([sys.executable, 'tools/study.py', path], cwd=REPO,
                       env=dict(os.environ, OMP_NUM_THREADS='1'), capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    run_dir = tmp_path / 'wd' / 'cap' / 'seed0'
    recorded = json.loads((run_dir / 'result.json').read_text())['data']
    assert recorded['train'] == dict(file=osp.relpath(data / 'twitter2017' / 'train.txt', REPO),
                                     posts=40, images=5, captions=3, caption_source='BLIP-2',
                                     used=16)
    assert {k: recorded['val'][k] for k in ('posts', 'images', 'captions')} == dict(
        posts=12, images=2, captions=1)
    md = (tmp_path / 'wd' / 'study.md').read_text()
    assert '| 5/40, 2/12 | 3/40, 1/12 (BLIP-2) | 16 of 40 |' in md
    # the same from the log alone (a result written before runs recorded their data)
    result = json.loads((run_dir / 'result.json').read_text())
    del result['data']
    (run_dir / 'result.json').write_text(json.dumps(result))
    summary = write_summary(load_study(path))
    assert summary['rows'][0]['data']['0'] == recorded
    # ... and kept in result.json: the summary still has it once the log is gone
    assert json.loads((run_dir / 'result.json').read_text())['data'] == recorded
    (run_dir / 'run.log').unlink()
    assert write_summary(load_study(path))['rows'][0]['data']['0'] == recorded
