"""Checkpoints a user can afford (pmu's CheckpointHook): one epoch checkpoint kept, written before the
old one goes, the final one without optimizer state, sizes in the log, and a warning when a finished
run is resumed without it. Real runs of the text-only MiniLM MNER config on a few Twitter-2017 sentences."""
import glob
import os.path as osp
import shutil

import pytest
from mmengine.hooks import Hook

from pmu.engine import load_checkpoint_file
from pmu.registry import HOOKS
from tests.conftest import REPO, train_keeping_log
from tests.robustness.conftest import TEXT_CFG, TINY, run_tool, tiny_options


@HOOKS.register_module(force=True)
class _CheckpointProbeHook(Hook):
    """Records which epoch checkpoints are on disk each time one is about to be written."""

    def __init__(self):
        self.on_disk, self.names = [], []

    def before_save_checkpoint(self, runner, checkpoint):
        name = osp.basename(runner.message_hub.get_info('last_ckpt', ''))
        # an epoch checkpoint (the best one is saved without schedulers), the first time it is written
        if 'param_schedulers' in checkpoint and name not in self.names:
            self.names.append(name)
            self.on_disk.append(sorted(osp.basename(p) for p in glob.glob(osp.join(runner.work_dir, 'epoch_*.pth'))))


def _run_in_process(work_dir, extra=None):
    from mmengine.runner import Runner

    from pmu.apis.config import load_complete_config
    options = tiny_options(work_dir=str(work_dir), **{'train_cfg.max_epochs': 3, **(extra or {})})
    cfg = load_complete_config(osp.join(REPO, TEXT_CFG), options)
    cfg.custom_hooks = [*cfg.custom_hooks, dict(type='_CheckpointProbeHook')]
    runner = Runner.from_cfg(cfg)
    lines = train_keeping_log(runner)
    probe = next(h for h in runner.hooks if isinstance(h, _CheckpointProbeHook))
    return runner, lines, probe


@pytest.fixture(scope='module')
def default_run(tmp_path_factory):
    return _run_in_process(tmp_path_factory.mktemp('ckpt_default'))


def test_one_epoch_checkpoint_is_kept_and_the_new_one_is_written_first(default_run):
    runner, _, probe = default_run
    # before epoch 2's checkpoint is written, epoch 1's is still there (MMEngine removed it first)
    assert probe.on_disk == [[], ['epoch_1.pth'], ['epoch_2.pth']]
    left = sorted(osp.basename(p) for p in glob.glob(osp.join(runner.work_dir, '*.pth')))
    assert len(left) == 2 and left[1] == 'epoch_3.pth' and left[0].startswith('best_ner_f1_epoch_')
    assert open(osp.join(runner.work_dir, 'last_checkpoint')).read().endswith('epoch_3.pth')


def test_the_final_checkpoint_has_no_optimizer_state_and_sizes_are_logged(default_run):
    runner, lines, _ = default_run
    final = load_checkpoint_file(osp.join(runner.work_dir, 'epoch_3.pth'))
    assert 'optimizer' not in final
    assert {'state_dict', 'param_schedulers', 'message_hub', 'rng_state'} <= set(final)
    assert final['meta']['epoch'] == 3
    said = [m for m in lines if m.startswith('epoch_')]
    assert len(said) == 3
    assert said[0].startswith('epoch_1.pth: ') and said[0].endswith(' MB, with optimizer state')
    assert said[2].startswith('epoch_3.pth: ') and 'weights only, the run is finished' in said[2]
    mb = [int(m.split(': ')[1].split(' MB')[0]) for m in said]
    # AdamW's two moments per parameter: the slim one is about a third of the full ones
    assert mb[0] == mb[1] and 0.25 < mb[2] / mb[0] < 0.45


def test_final_optimizer_true_keeps_it(tmp_path):
    runner, lines, _ = _run_in_process(tmp_path, {'default_hooks.checkpoint.final_optimizer': True,
                                                  'train_cfg.max_epochs': 1})
    assert 'optimizer' in load_checkpoint_file(osp.join(runner.work_dir, 'epoch_1.pth'))
    assert any(m.startswith('epoch_1.pth: ') and m.endswith('with optimizer state') for m in lines)


def test_resuming_a_finished_run_for_more_epochs_warns_that_the_optimizer_starts_afresh(default_run, tmp_path):
    runner, _, _ = default_run
    work = str(tmp_path / 'continued')
    shutil.copytree(runner.work_dir, work)
    with open(osp.join(work, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(work, 'epoch_3.pth'))
    r = run_tool(['tools/train.py', TEXT_CFG, '--work-dir', work, '--resume', '--cfg-options', *TINY,
                  'train_cfg.max_epochs=4'])
    assert r.returncode == 0, r.stderr[-3000:]
    log = r.stdout + r.stderr
    assert 'resuming from a checkpoint without optimizer state' in log
    assert 'Epoch(train) [4]' in log
    assert osp.isfile(osp.join(work, 'epoch_4.pth')) and not osp.exists(osp.join(work, 'epoch_3.pth'))
