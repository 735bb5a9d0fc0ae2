"""benchmarks/caption_cost.py: both sides run the same posts, the caption side with its segment (no timing asserted)."""
import os.path as osp
import subprocess
import sys

import pytest

from tests.conftest import REPO, require_real_data


def test_the_two_sides_differ_only_by_the_caption():
    require_real_data('twitter2017/train.txt', 'captions/twitter2017_blip2.txt')
    sys.path.insert(0, REPO)
    from benchmarks.caption_cost import CONFIG, build
    from pmu.apis.config import load_complete_config
    cfg = load_complete_config(CONFIG)
    with_caption, plain = build(cfg, True, 4), build(cfg, False, 4)
    for a, b in zip(with_caption, plain):
        assert a['data_samples'].words == b['data_samples'].words
        assert a['data_samples'].caption_status == 'whole' and b['data_samples'].caption_status == 'none'
        n = len(b['inputs']['input_ids'])
        assert a['inputs']['input_ids'][:n - 1].tolist() == b['inputs']['input_ids'][:n - 1].tolist()
        assert len(a['inputs']['input_ids']) > n


@pytest.mark.slow
def test_the_benchmark_prints_both_ratios():
    require_real_data('twitter2017/train.txt', 'captions/twitter2017_blip2.txt')
    out = subprocess.run([sys.executable, osp.join(REPO, 'benchmarks', 'caption_cost.py'), '--posts', '4',
                          '--batch-size', '2', '--repeats', '1', '--skip-cuts'],
                         capture_output=True, text=True, timeout=600, cwd=REPO)
    assert out.returncode == 0, out.stderr[-2000:]
    assert 'training with caption / without:' in out.stdout and 'inference with caption / without:' in out.stdout
