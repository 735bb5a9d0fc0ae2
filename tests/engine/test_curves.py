"""CurvePlotHook on long runs and after a resume.

A 12 000-iteration run cannot train here, so these tests fill a real MessageHub the way
MMEngine's RuntimeInfoHook does (one ``train/loss`` value per iteration, one ``val/<metric>`` per
validation) and hand the hook a stand-in runner holding it; the short real run is in
test_monitoring.py.
"""
import os.path as osp
from types import SimpleNamespace

import numpy as np
import pytest
from mmengine.logging import MessageHub

from pmu.engine.hooks.curves import CurvePlotHook, smooth


def _runner(tmp_path, name, iters, epochs=0):
    hub = MessageHub(name)
    return SimpleNamespace(message_hub=hub, work_dir=str(tmp_path), _train_loop=None, iter=iters, epoch=epochs)


def _train(runner, losses):
    for v in losses:
        runner.message_hub.update_scalar('train/loss', float(v))
        runner.message_hub.update_scalar('train/loss_itc', float(v) / 2)
        runner.message_hub.update_scalar('train/lr', 1e-4)


def _validate(hook, runner, epoch, metrics):
    runner.epoch = epoch
    for k, v in metrics.items():
        runner.message_hub.update_scalar(f'val/{k}', v)
    hook.after_val_epoch(runner, metrics)


def test_long_runs_draw_raw_values_faint_and_a_moving_average(tmp_path):
    rng = np.random.default_rng(0)
    losses = 5 * np.exp(-np.arange(12_000) / 3000) + rng.normal(0, 0.3, 12_000)
    runner = _runner(tmp_path, 'long', 12_000)
    _train(runner, losses)
    hook = CurvePlotHook()
    _validate(hook, runner, 1, {'retrieval/t2i_R@1': 10.0, 'retrieval/t2i_R@10': 50.0, 'retrieval/t2i_R@5': 30.0,
                                'retrieval/per/type/f1': 3.0})
    assert osp.getsize(osp.join(str(tmp_path), 'curves.png')) > 10_000
    loss = hook.plotted['loss']['loss']
    assert len(loss['y']) == 12_000  # every value is drawn (faint)
    sx, sy = loss['smoothed']
    assert 250 <= len(sx) <= 310
    # each smoothed point is the mean of the 40 values before it
    i = sx[10] - 1  # x is 1-based
    assert sy[10] == pytest.approx(losses[i - 39:i + 1].mean())
    assert set(hook.plotted['loss']) == {'loss', 'loss_itc'}  # not the learning rate
    assert set(hook.plotted['val']) == {'retrieval/t2i_R@1', 'retrieval/t2i_R@5', 'retrieval/t2i_R@10'}


def test_short_runs_draw_every_value(tmp_path):
    runner = _runner(tmp_path, 'short', 12)
    _train(runner, np.linspace(3, 1, 12))
    hook = CurvePlotHook()
    hook.after_train(runner)
    loss = hook.plotted['loss']['loss']
    assert loss['x'] == list(range(1, 13)) and loss['smoothed'] is None
    assert loss['y'] == pytest.approx(np.linspace(3, 1, 12))


def test_validation_steps_survive_a_resume(tmp_path):
    runner = _runner(tmp_path, 'first', 40)
    _train(runner, np.ones(40))
    hook = CurvePlotHook()
    _validate(hook, runner, 1, {'ner/f1': 10.0})
    _validate(hook, runner, 2, {'ner/f1': 20.0})
    state = runner.message_hub.state_dict()  # what the checkpoint keeps
    resumed = _runner(tmp_path, 'resumed', 40, epochs=2)
    resumed.message_hub.load_state_dict(state)
    hook = CurvePlotHook()
    _validate(hook, resumed, 3, {'ner/f1': 30.0})
    assert hook.plotted['val']['ner/f1'] == dict(x=[1, 2, 3], y=[10.0, 20.0, 30.0], smoothed=None)
    assert len(hook.plotted['loss']['loss']['y']) == 40


def test_smooth_keeps_the_whole_run():
    x = list(range(1, 1001))
    sx, sy = smooth(x, np.arange(1000.0), 100)
    assert sx[0] == 10 and sy[0] == pytest.approx(4.5)  # mean of 0..9
    assert sx[-1] >= 991
