"""A learning rate that makes the loss explode stops the run at the first non-finite loss, naming
it, with a non-zero exit and no checkpoint of the diverged weights."""
import glob
import math
import os.path as osp
import re
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
from mmengine.logging import MMLogger

from pmu.engine.hooks import FiniteLossHook, NonFiniteLossError
from tests.robustness.conftest import TEXT_CFG, TINY, run_tool


@pytest.mark.slow
def test_lr_1e3_stops_at_the_first_nan_loss_with_exit_1_and_no_nan_checkpoint(tmp_path):
    from pmu.engine import load_checkpoint_file
    wd = str(tmp_path / 'wd')
    r = run_tool(['tools/train.py', TEXT_CFG, '--work-dir', wd, '--cfg-options', *TINY,
                  'train_cfg.max_epochs=3', 'optim_wrapper.optimizer.lr=1000.0'])
    assert r.returncode == 1
    err = r.stderr.strip().splitlines()[-1]
    found = re.match(r'pmu\.engine\.hooks\.finite_loss\.NonFiniteLossError: non-finite loss at iteration (\d+) '
                     r'\(epoch (\d), batch \d/4\): loss=nan, loss_crf=nan\. Training stops here and no checkpoint '
                     r'is written from these weights', err)
    assert found, err
    stop_iter, stop_epoch = int(found.group(1)), int(found.group(2))
    assert stop_epoch < 3
    # what was saved before (regular and best) holds finite weights from before the NaN
    saved = glob.glob(osp.join(wd, '*.pth'))
    assert len(saved) == 2 * (stop_epoch - 1)  # epoch_N.pth and best_ner_f1_epoch_N.pth of finished epochs
    for path in saved:
        ckpt = load_checkpoint_file(path)
        assert ckpt['meta']['iter'] < stop_iter
        assert all(torch.isfinite(v).all() for v in ckpt['state_dict'].values() if v.is_floating_point())


def stand_in_runner(model):
    """The runner attributes the hook reads (a real Runner would need a whole training set-up here)."""
    return SimpleNamespace(iter=6, epoch=1, model=model, train_dataloader=[None] * 4,
                           logger=MMLogger.get_instance('pmu-finite-loss-test'))


def test_loss_terms_are_named_with_iteration_and_epoch():
    runner = stand_in_runner(nn.Linear(2, 2))
    with pytest.raises(NonFiniteLossError, match=r'non-finite loss at iteration 7 \(epoch 2, batch 3/4\): '
                                                 r'loss=inf, loss_crf=inf, loss_aux=0\.5'):
        FiniteLossHook().after_train_iter(runner, 2, outputs={
            'loss': torch.tensor(math.inf), 'loss_crf': torch.tensor(math.inf), 'loss_aux': torch.tensor(0.5),
            'acc': torch.tensor(math.nan)})  # not a loss term: not checked


def test_consecutive_non_finite_losses_are_tolerated_up_to_the_limit():
    runner = stand_in_runner(nn.Linear(2, 2))
    hook = FiniteLossHook(max_consecutive=2)
    hook.after_train_iter(runner, 0, outputs={'loss': torch.tensor(math.nan)})  # warned, weights finite
    hook.after_train_iter(runner, 1, outputs={'loss': torch.tensor(1.0)})  # resets the count
    hook.after_train_iter(runner, 2, outputs={'loss': torch.tensor(math.nan)})
    with pytest.raises(NonFiniteLossError, match=r'loss=nan \(2 in a row\)'):
        hook.after_train_iter(runner, 3, outputs={'loss': torch.tensor(math.nan)})


def test_non_finite_weights_stop_at_once_even_when_losses_are_tolerated():
    model = nn.Linear(2, 2)
    with torch.no_grad():
        model.weight[0, 0] = math.nan
    with pytest.raises(NonFiniteLossError, match=r'1 parameters are no longer finite \(weight\)'):
        FiniteLossHook(max_consecutive=5).after_train_iter(stand_in_runner(model), 0,
                                                           outputs={'loss': torch.tensor(math.nan)})


def test_nan_weights_are_never_validated_into_a_best_checkpoint():
    model = nn.Linear(2, 2)
    with torch.no_grad():
        model.bias.fill_(math.inf)
    with pytest.raises(NonFiniteLossError, match=r'no best checkpoint is kept'):
        FiniteLossHook().after_val_epoch(stand_in_runner(model), metrics={'ner/f1': 0.0})


def test_a_checkpoint_with_nan_weights_is_refused_before_it_is_written():
    state = nn.Linear(2, 2).state_dict()
    state['weight'][1, 1] = math.nan
    with pytest.raises(NonFiniteLossError, match=r'refusing to save a checkpoint at iteration 7 \(epoch 2\): '
                                                 r'1 weights are not finite \(weight\)'):
        FiniteLossHook().before_save_checkpoint(stand_in_runner(nn.Linear(2, 2)), {'state_dict': state})


def test_max_consecutive_below_one_is_refused():
    with pytest.raises(ValueError, match='max_consecutive must be >= 1, got 0'):
        FiniteLossHook(max_consecutive=0)
