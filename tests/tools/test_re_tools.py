"""tools/train.py then tools/test.py --out on a subset of MNRE, as a user runs them."""
import ast
import glob
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

CONFIG = 'configs/mre/promu_minilm-effnet_mnre.py'
# The first 5 training and 7 validation instances have their image offline;
# 64 px images keep the run short.
SUBSET = [
    'train_dataloader.dataset.indices=16', 'train_dataloader.batch_size=8',
    'val_dataloader.dataset.indices=12', 'train_cfg.max_epochs=1',
    'train_dataloader.dataset.pipeline.0.size=[64,64]',
    'val_dataloader.dataset.pipeline.0.size=[64,64]',
    'test_dataloader.dataset.pipeline.0.size=[64,64]',
    'test_dataloader.dataset.indices=12', 'default_hooks.logger.interval=1',
]


def _run(*args):
    # one OpenMP thread: much faster than two on a CPU shared with other jobs
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get('OMP_NUM_THREADS', '1'))
    proc = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.slow
def test_train_then_test_with_out_reproduces_the_validation_figures(tmp_path, mnre_root):
    work = tmp_path / 'work'
    _run('tools/train.py', CONFIG, '--work-dir', str(work), '--cfg-options', *SUBSET)
    best = glob.glob(str(work / 'best_re_f1_epoch_*.pth'))
    assert len(best) == 1
    scalars = glob.glob(str(work / '*' / 'vis_data' / 'scalars.json'))[0]
    val = [json.loads(line) for line in open(scalars) if '"re/f1"' in line][-1]

    out = tmp_path / 'pred.jsonl'
    log = _run('tools/test.py', CONFIG, best[0], '--out', str(out), '--work-dir',
               str(tmp_path / 'test'), '--cfg-options', *SUBSET)
    # the per-relation table is in the log file (the console shows the headline line)
    test_log = glob.glob(str(tmp_path / 'test' / '*' / '*.log'))[0]
    assert 'micro (non-None)' in open(test_log).read() and 'test: re/f1 ' in log
    metrics = ast.literal_eval(log.strip().splitlines()[-1])  # tools/test.py prints it last
    for key in ('re/f1', 're/precision', 're/recall', 're/accuracy'):
        assert metrics[key] == pytest.approx(val[key], abs=1e-6), key

    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 12
    assert [r['has_image'] for r in rows] == [True] * 7 + [False] * 5
    for r in rows:
        assert len(r['probs']) == 23 and sum(r['probs'].values()) == pytest.approx(1, abs=1e-4)
        assert r['pred'] == max(r['probs'], key=r['probs'].get)
        assert r['pred_prob'] == r['probs'][r['pred']] and r['gold_prob'] == r['probs'][r['gold']]
    correct = sum(r['gold'] == r['pred'] for r in rows)
    assert metrics['re/accuracy'] == round(100 * correct / 12, 2)
