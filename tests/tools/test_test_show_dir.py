"""tools/test.py --show-dir as a user runs it, on 12 posts of the real validation splits (Twitter-2017: the
demo set without it; MNRE: skipped without it) with a randomly initialised checkpoint: the pages, pictures
and tables exist, and their counts agree with each other and with the metric the run printed."""
import csv
import glob
import json
import os
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch

from pmu.evaluation.error_analysis import conlleval_spans
from tests.conftest import REPO

MNER_CFG = 'configs/mner/promu_minilm-effnet_twitter2017.py'
MRE_CFG = 'configs/mre/promu_minilm-effnet_mnre.py'
SMALL = ['test_dataloader.dataset.indices=12', 'test_dataloader.num_workers=0',
         'test_dataloader.persistent_workers=False']
pytestmark = pytest.mark.slow


def random_checkpoint(inferencer, config, path):
    """The config's model with its initial (random) weights, saved as a checkpoint."""
    torch.manual_seed(0)
    model = inferencer(osp.join(REPO, config), random_weights=True, show_progress=False).model
    torch.save(dict(state_dict=model.state_dict()), path)
    return str(path)


def run_show_dir(config, checkpoint, data_root, out, *extra):
    env = dict(os.environ, OMP_NUM_THREADS='1', PMU_DATA_ROOT=data_root)
    proc = subprocess.run([sys.executable, 'tools/test.py', config, checkpoint, '--work-dir', str(out / 'wd'),
                           '--show-dir', str(out / 'show'), *extra, '--cfg-options', *SMALL],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads(proc.stdout.strip().splitlines()[-1])
    show = out / 'show'
    for name in ('index.html', 'errors.html', 'confusion.csv', 'analysis.json', 'errors.jsonl'):
        assert (show / name).is_file(), name
    return metrics, json.loads((show / 'analysis.json').read_text()), show, proc



def page_numbers(page):
    return {k: int(v) for k, v in re.findall(r'id="(?:count-)?([\w-]+)">(\d+)<', page)}


def check_pages_agree(show, summary):
    """Both pages state the JSON's counts; the first lists every post, the second those with an error."""
    index, errors = ((show / f).read_text(encoding='utf-8') for f in ('index.html', 'errors.html'))
    for page in (index, errors):
        numbers = page_numbers(page)
        assert {k: numbers[k] for k in summary['errors']} == summary['errors']
        assert (numbers['posts'], numbers['posts-with-errors'], numbers['gold'], numbers['predicted'],
                numbers['correct']) == (summary['posts'], summary['posts_with_errors'], summary['gold'],
                                        summary['predicted'], summary['correct'])
    assert index.count('<div class="post" data-errors=') == summary['posts'] == 12
    assert errors.count('<div class="post" data-errors=') == summary['posts_with_errors']
    assert len(re.findall(r'<li class="err err-', index)) == sum(summary['errors'].values())
    lines = (show / 'errors.jsonl').read_text(encoding='utf-8').splitlines()
    assert len(lines) == summary['posts_with_errors']
    assert sum(len(json.loads(line)['errors']) for line in lines) == sum(summary['errors'].values())


def confusion_csv(show):
    with open(show / 'confusion.csv', newline='') as f:
        rows = list(csv.reader(f))
    return rows[0][1:], {r[0]: list(map(int, r[1:])) for r in rows[1:]}


def test_mner_show_dir(twitter_root, tmp_path):
    from pmu.apis import MNERInferencer
    ckpt = random_checkpoint(MNERInferencer, MNER_CFG, tmp_path / 'mner.pth')
    conll = tmp_path / 'pred.conll'
    metrics, summary, show, proc = run_show_dir(MNER_CFG, ckpt, twitter_root, tmp_path, '--out', str(conll),
                                                 '--show-limit', '3')
    # the metric's figures: gold entities (its per-type support), precision, recall, F1
    support = {k.split('/')[1]: v for k, v in metrics.items() if k.endswith('/support')}
    assert summary['gold'] == sum(support.values()) > 0
    assert (summary['precision'], summary['recall'], summary['f1']) == \
        (metrics['ner/precision'], metrics['ner/recall'], metrics['ner/f1'])
    assert summary['metrics'] == metrics and summary['title'] == 'valid'
    # the CoNLL predictions of the same run hold the same entities
    blocks = [b.splitlines()[1:] for b in conll.read_text(encoding='utf-8').strip().split('\n\n')]
    gold = sum(len(conlleval_spans([line.split('\t')[1] for line in b])) for b in blocks)
    pred = sum(len(conlleval_spans([line.split('\t')[2] for line in b])) for b in blocks)
    assert (gold, pred) == (summary['gold'], summary['predicted'])
    # the confusion table: each gold span once in its type's row, each prediction once in its column
    columns, rows = confusion_csv(show)
    assert columns[-1] == 'none' and list(rows) == columns
    for t, n in support.items():
        assert sum(rows[t]) == n, t
    assert sum(sum(r[:-1]) for r in rows.values()) == summary['predicted']
    assert sum(rows[t][-1] for t in support) <= summary['errors']['miss'] + summary['errors']['wrong_boundary'] \
        + summary['errors']['wrong_boundary_type']
    check_pages_agree(show, summary)
    pngs = glob.glob(str(show / 'posts' / '*.png'))
    assert len(pngs) == summary['pngs'] == min(3, summary['posts_with_errors'])
    assert '--show-dir: ' in proc.stdout + proc.stderr


def test_mre_show_dir(mnre_root, tmp_path):
    from pmu.apis import MREInferencer
    ckpt = random_checkpoint(MREInferencer, MRE_CFG, tmp_path / 'mre.pth')
    metrics, summary, show, _ = run_show_dir(MRE_CFG, ckpt, mnre_root, tmp_path)
    for k in ('precision', 'recall', 'f1', 'accuracy'):
        assert summary[k] == metrics[f're/{k}'], k
    assert summary['posts'] == 12
    assert summary['posts_with_errors'] == 12 - round(metrics['re/accuracy'] * 12 / 100)
    columns, rows = confusion_csv(show)
    assert list(rows) == columns and 'None' in columns
    assert sum(map(sum, rows.values())) == 12
    assert sum(n for g, r in rows.items() for p, n in zip(columns, r) if g == p) == 12 - summary['posts_with_errors']
    assert sum(r[columns.index('None')] for g, r in rows.items() if g != 'None') == summary['errors']['missed_relation']
    assert sum(n for p, n in zip(columns, rows['None']) if p != 'None') == summary['errors']['spurious_relation']
    check_pages_agree(show, summary)
    assert len(glob.glob(str(show / 'posts' / '*.png'))) == summary['pngs'] == summary['posts_with_errors']
