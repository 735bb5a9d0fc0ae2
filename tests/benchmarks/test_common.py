"""The statistics and interleaving of benchmarks/_common.py (no timing is asserted)."""
import pytest
import torch

from benchmarks import _common as c


def test_quantile_summary_and_fmt():
    s = c.quantile_summary([3.0, 1.0, 2.0, 10.0])
    assert (s['median'], s['min'], s['max'], s['n']) == (2.5, 1.0, 10.0, 4)
    assert s['q1'] <= s['median'] <= s['q3']
    assert c.quantile_summary([4.0]) == dict(median=4.0, min=4.0, max=4.0, q1=4.0, q3=4.0, n=1)
    assert c.fmt([1.0, 2.0, 4.0]) == '2.00 (1.00–4.00)'
    with pytest.raises(ValueError, match='no values'):
        c.quantile_summary([])


def test_ratio_is_taken_per_block_pair():
    # a slow spell (block 2) hits both sides of its pair: per-pair ratios stay at 0.5, while the
    # ratio of the two medians would be 0.4 / 0.8 = 0.5 only by luck of the order
    a, b = [1.0, 0.2, 1.0], [2.0, 0.4, 2.0]
    assert c.pair_ratios(a, b) == [0.5, 0.5, 0.5]
    line = c.ratio_line('pmu / plain', a, b, goal=0.9)
    assert line.startswith('pmu / plain: 0.50 (0.50–0.50') and 'over 3 block pairs' in line
    assert line.endswith('goal >= 0.9: NOT met')
    assert c.ratio_line('x', [1.0], [1.0], goal=0.95).endswith('met')
    with pytest.raises(ValueError, match='differ in number'):
        c.pair_ratios([1.0], [1.0, 2.0])


def test_interleave_alternates_blocks_after_warmup():
    order = []
    blocks = {'A': lambda: order.append('A') or 10, 'B': lambda: order.append('B') or 5}
    clock = c.interleave(blocks, repeats=3, warmup=1)
    rates = clock.rates
    assert order == ['A', 'B'] * 4  # one untimed round, then A B A B A B
    assert set(rates) == {'A', 'B'} and all(len(v) == 3 and all(r > 0 for r in v) for v in rates.values())
    assert all(len(v) == 3 for v in clock.peak_mib.values())
    with pytest.raises(ValueError, match='repeats'):
        c.interleave(blocks, repeats=0)


def test_block_clock_and_peak_memory():
    clock = c.BlockClock()
    for name in ('runner', 'plain', 'runner', 'plain'):
        clock.start()
        x = torch.ones(256, 256) @ torch.ones(256, 256)  # noqa: F841
        clock.stop(name, samples=8, steps=2)
    assert len(clock.rates['runner']) == len(clock.rates['plain']) == 2
    assert all(m > 1 for m in clock.peak_mib['plain'])  # MiB of a running Python process
    assert c.memory_kind() == 'peak RSS of the process'


def test_flops_and_mfu_line_on_cpu():
    lin = torch.nn.Linear(64, 32)
    x = torch.randn(8, 64, requires_grad=True)

    def step():
        lin(x).sum().backward()

    flops = c.count_flops(step)
    assert flops == 3 * 2 * 8 * 64 * 32  # forward + two backward matrix products
    line = c.mfu_line(flops, 0.01)
    assert 'GFLOP/step' in line and line.endswith('MFU n/a on CPU')
    assert c.device_peak_flops() is None
    assert c.PEAK_BF16_FLOPS['H100'] == c.PEAK_BF16_FLOPS['H200'] == 989e12


def test_machine_line_names_cores_and_load():
    line = c.machine_line()
    assert 'cores' in line and 'load average' in line and 'torch' in line
