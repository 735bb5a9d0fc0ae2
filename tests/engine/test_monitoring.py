"""What a person watching a run sees: curves, progress, subset notices, a log without noise.

One tiny real run (text-only MiniLM MNER on Twitter-2017, 16 training and 12 validation
sentences, 2 epochs; the demo set when the real data is absent) serves most tests, with the
monitoring ``tools/train.py`` sets up (``setup_monitoring``) and TensorBoard when it is installed.
"""
import glob
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch
import torch.nn as nn

from pmu.utils.progress import LoopProgress
from pmu.utils.setup_env import setup_monitoring
from tests.conftest import DEMO_DATA, MINILM, REPO, train_keeping_log

HAS_TENSORBOARD = __import__('importlib').util.find_spec('tensorboard') is not None


@pytest.fixture(scope='module')
def tiny_run(tmp_path_factory, twitter_root):
    """The runner and the log messages of a 2-epoch run on a few sentences."""
    from mmengine.runner import Runner

    from pmu.apis.config import load_complete_config
    work_dir = str(tmp_path_factory.mktemp('tiny_run'))
    options = {
        'work_dir': work_dir, 'train_cfg.max_epochs': 2, 'default_hooks.logger.interval': 1,
        'train_dataloader.batch_size': 4, 'train_dataloader.dataset.indices': 16,
        # 6 validation batches: enough for the progress lines
        'val_dataloader.batch_size': 2, 'val_dataloader.dataset.indices': 12,
        'default_hooks.eval_progress.min_interval': 0,  # a line per tenth however fast the batches go
    }
    for split in ('train', 'val', 'test'):
        options.update({f'{split}_dataloader.num_workers': 0, f'{split}_dataloader.persistent_workers': False,
                        f'{split}_dataloader.dataset.data_root': twitter_root})
    cfg = load_complete_config(osp.join(REPO, 'configs/mner/textonly_minilm_twitter2017.py'), options)
    setup_monitoring(cfg, tensorboard=HAS_TENSORBOARD)
    runner = Runner.from_cfg(cfg)
    lines = train_keeping_log(runner)
    return runner, lines


def _curve_hook(runner):
    return next(h for h in runner.hooks if type(h).__name__ == 'CurvePlotHook')


# ----------------------------------------------------------------------------- curves

def test_curves_are_in_the_work_dir_with_every_loss_value(tiny_run):
    runner, _ = tiny_run
    path = osp.join(runner.work_dir, 'curves.png')
    assert osp.isfile(path) and osp.getsize(path) > 10_000
    assert not glob.glob(osp.join(runner.work_dir, '*', 'curves.png'))  # not in the timestamped folder
    plotted = _curve_hook(runner).plotted
    # 2 epochs x 4 iterations, each loss value drawn (the total equals the CRF loss: drawn once)
    loss = plotted['loss']['loss_crf']
    assert loss['x'] == list(range(1, 9)) and loss['smoothed'] is None
    logged = [float(v) for v in runner.message_hub.get_scalar('train/loss_crf').data[0]]
    assert loss['y'] == pytest.approx(logged) and all(v > 0 for v in loss['y'])
    # one point per validation, at its epoch; the headline metrics only
    assert set(plotted['val']) == {'ner/f1', 'ner/precision', 'ner/recall'}
    assert plotted['val']['ner/f1']['x'] == [1, 2]
    assert plotted['val']['ner/f1']['y'][-1] == pytest.approx(
        runner.message_hub.get_scalar('val/ner/f1').current())


# ----------------------------------------------------------------------------- log lines

def test_subset_runs_say_so(tiny_run, twitter_root):
    _, lines = tiny_run
    train = [m for m in lines if m.startswith('training on ')]
    val = [m for m in lines if m.startswith('validating on ')]
    assert len(train) == 1 and len(val) == 1
    total = 3373 if twitter_root != DEMO_DATA else 40
    assert train[0] == f'training on 16 of {total} samples (dataset.indices)'
    assert re.fullmatch(r'validating on 12 of \d+ samples \(dataset\.indices\)', val[0])


def test_whole_datasets_get_no_subset_line(twitter_root):
    from pmu.engine.hooks.subset import subset_message
    from pmu.registry import DATASETS
    from pmu.utils import register_all_modules
    register_all_modules()
    ds = DATASETS.build(dict(type='TwitterNERDataset', data_root=twitter_root, ann_file='twitter2017/valid.txt',
                             entity_types=['PER', 'LOC', 'ORG', 'MISC'], pipeline=[]))
    assert subset_message('val', ds) == ''


def test_one_summary_line_replaces_the_per_parameter_lines(tiny_run):
    runner, lines = tiny_run
    assert not [m for m in lines if m.startswith('paramwise_options')]
    summary = [m for m in lines if m.startswith('paramwise_cfg: ')]
    assert len(summary) == 1
    # the counts add up to the parameters the optimizer holds
    counted = sum(int(n) for n in re.findall(r' on (\d+) params', summary[0]))
    held = sum(len(g['params']) for g in runner.optim_wrapper.optimizer.param_groups)
    assert counted == held
    assert 'lr_mult 200 decay_mult 0 on 3 params (head.crf.*)' in summary[0]


def test_frozen_parameters_get_one_line_and_the_same_optimizer(mmlog):
    from mmengine.optim import DefaultOptimWrapperConstructor

    from pmu.engine.optim_wrapper import SummarizedOptimWrapperConstructor
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4), nn.Linear(4, 2))
    model[0].requires_grad_(False)
    cfg = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.01))
    paramwise_cfg = dict(norm_decay_mult=0.0, custom_keys={'2': dict(lr_mult=10.0)})
    ours = SummarizedOptimWrapperConstructor(cfg, paramwise_cfg)(model)
    ours_lines = list(mmlog.lines)
    mmengine = DefaultOptimWrapperConstructor(cfg, paramwise_cfg)(model)

    def groups(w):
        return [(tuple(id(p) for p in g['params']), g['lr'], g['weight_decay']) for g in w.optimizer.param_groups]

    assert groups(ours) == groups(mmengine)
    assert not [m for m in ours_lines if 'requires_grad' in m and 'skipped' in m]
    assert not [m for m in ours_lines if m.startswith('paramwise_options')]
    assert ('frozen: 2 params with requires_grad=False are not optimised: 0.weight (1), 0.bias (1)'
            in ours_lines)
    assert ('paramwise_cfg: lr_mult 1 decay_mult 0 on 2 params (norm/bias), lr_mult 10 on 2 params (2.*)'
            in ours_lines)
    # MMEngine's own constructor is left as it was
    assert [m for m in mmlog.lines[len(ours_lines):] if m.startswith('paramwise_options')]


def test_building_the_text_encoder_prints_no_load_report(capfd, mmlog):
    from transformers.utils import logging as hf_logging

    from pmu.registry import MODELS
    verbosity = hf_logging.get_verbosity()
    MODELS.build(dict(type='HFTextEncoder', name_or_path=MINILM))
    out, err = capfd.readouterr()
    assert 'LOAD REPORT' not in out + err and 'UNEXPECTED' not in out + err
    assert 'Loading weights' not in out + err
    assert (f'{MINILM}: BertModel loaded; unused checkpoint tensors: 2 '
            '(pooler.dense.bias, pooler.dense.weight)') in mmlog.lines
    assert hf_logging.get_verbosity() == verbosity  # restored


# ----------------------------------------------------------------------------- progress

def test_validation_shows_progress(tiny_run):
    _, lines = tiny_run
    progress = [m for m in lines if m.startswith('val [')]
    # each validation: 6 batches, a line per batch that passes another 10 %, then the final line
    finals = [m for m in progress if m.startswith('val [6/6] 100%')]
    assert len(finals) == 2
    assert any(re.match(r'val \[3/6\] 50%, \d:\d\d:\d\d elapsed, about \d:\d\d:\d\d left', m) for m in progress)
    assert len(progress) <= 2 * 11


def test_loop_progress_logs_every_tenth_without_a_terminal(mmlog):
    progress = LoopProgress(603, 'test', min_interval=0, tty=False)
    for _ in range(603):
        progress.update()
    progress.close()
    lines = [m for m in mmlog.lines if m.startswith('test [')]
    assert [int(re.match(r'test \[(\d+)/603\]', m).group(1)) for m in lines] == \
        [61, 121, 181, 242, 302, 362, 423, 483, 543, 603]


def test_fast_loops_log_the_last_line_only(mmlog):
    progress = LoopProgress(50, 'val', tty=False)  # 50 batches well within the 2 s between two lines
    for _ in range(50):
        progress.update()
    progress.close()
    assert [m for m in mmlog.lines if m.startswith('val [')] == ['val [50/50] 100%, 0:00:00 elapsed']


def test_short_loops_report_nothing(mmlog):
    progress = LoopProgress(3, 'val', min_interval=0, tty=False)
    for _ in range(3):
        progress.update()
    progress.close()
    assert not [m for m in mmlog.lines if m.startswith('val [')]


# ----------------------------------------------------------------------------- TensorBoard

def test_tensorboard_switch_adds_the_backend_once():
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(REPO, 'configs/mner/textonly_minilm_twitter2017.py'))
    constructor = cfg.optim_wrapper.get('constructor')
    if HAS_TENSORBOARD:
        setup_monitoring(cfg, tensorboard=True)
        setup_monitoring(cfg, tensorboard=True)
        assert [b['type'] for b in cfg.visualizer.vis_backends] == ['LocalVisBackend', 'TensorboardVisBackend']
    # monitoring leaves the optimizer alone
    assert cfg.optim_wrapper.get('constructor') == constructor


def test_tensorboard_without_the_package_says_how_to_install(monkeypatch):
    import importlib.util

    from mmengine.config import Config
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, 'find_spec', lambda name, *a: None if name == 'tensorboard' else real(name, *a))
    cfg = Config.fromfile(osp.join(REPO, 'configs/mner/textonly_minilm_twitter2017.py'))
    with pytest.raises(SystemExit, match=re.escape("pip install -e '.[tensorboard]'")):
        setup_monitoring(cfg, tensorboard=True)


def test_train_tool_has_the_tensorboard_flag():
    out = subprocess.run([sys.executable, osp.join(REPO, 'tools', 'train.py'), '--help'],
                         capture_output=True, text=True, check=True).stdout
    assert '--tensorboard' in out


@pytest.mark.skipif(not HAS_TENSORBOARD, reason="tensorboard is not installed (pip install -e '.[tensorboard]')")
def test_tensorboard_events_are_written(tiny_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    runner, _ = tiny_run
    events = glob.glob(osp.join(runner.work_dir, '*', 'vis_data', 'events.out.tfevents.*'))
    assert len(events) == 1
    acc = EventAccumulator(events[0])
    acc.Reload()
    tags = acc.Tags()['scalars']
    assert 'loss' in tags and 'ner/f1' in tags
    assert len(acc.Scalars('ner/f1')) == 2
