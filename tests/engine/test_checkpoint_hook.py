"""Checkpoints a user can afford and trust (pmu's AtomicCheckpointHook): one epoch checkpoint kept, written
before the old one goes, the final one without optimizer state, sizes in the log, a warning when a
finished run is resumed without it and its schedule rebuilt for the new length; every file written
atomically (a full disk or a SIGTERM while writing leaves no partial file); a resume from another work
dir removes nothing there; a resume refuses another model's checkpoint. Real runs of the text-only
MiniLM MNER config on a few Twitter-2017 sentences."""
import glob
import os
import os.path as osp
import resource
import shutil
import signal

import pytest
import torch
from mmengine.hooks import Hook

from pmu.engine import CheckpointWriteError, load_checkpoint_file
from pmu.registry import HOOKS
from pmu.utils.checkpoint import atomic_write
from tests.conftest import REPO, train_keeping_log
from tests.robustness.conftest import TEXT_CFG, TINY, run_tool, scalars, tiny_options


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


def _run_in_process(work_dir, extra=None, hooks=()):
    from mmengine.runner import Runner

    from pmu.apis.config import load_complete_config
    options = tiny_options(work_dir=str(work_dir), **{'train_cfg.max_epochs': 3, **(extra or {})})
    cfg = load_complete_config(osp.join(REPO, TEXT_CFG), options)
    cfg.custom_hooks = [*cfg.custom_hooks, dict(type='_CheckpointProbeHook'), *hooks]
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


def test_a_finished_run_continued_for_more_epochs_follows_the_schedule_of_the_new_length(default_run, tmp_path):
    """The optimizer starts afresh (the final checkpoint has no optimizer state: said so). The 3-epoch
    run's schedule decayed to 0 at its last iteration; loaded as it is, epoch 4 would train at lr 0. It is
    rebuilt for 4 epochs (16 iterations: warm-up over 4, linear decay to 0 at the last) and advanced to
    iteration 12, with a warning: iterations 13-16 get 3/11, 2/11, 1/11, 0 of the base rate 5e-5."""
    runner, _, _ = default_run
    work = str(tmp_path / 'continued')
    shutil.copytree(runner.work_dir, work)
    with open(osp.join(work, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(work, 'epoch_3.pth'))
    r = run_tool(['tools/train.py', TEXT_CFG, '--work-dir', work, '--resume', '--cfg-options', *TINY,
                  'train_cfg.max_epochs=4'])
    assert r.returncode == 0, r.stderr[-3000:]
    log = r.stdout + r.stderr
    assert 'resuming from a checkpoint without optimizer state' in log and 'Epoch(train) [4]' in log
    assert osp.isfile(osp.join(work, 'epoch_4.pth')) and not osp.exists(osp.join(work, 'epoch_3.pth'))
    assert ('--resume at iteration 12 (epoch 3) with train_cfg.max_epochs=4: the checkpoint\'s learning-rate '
            'schedule was planned for another length and ends at iteration 12 (it would train at lr 0 from here); '
            'it is rebuilt from the config for 4 epochs (ending at iteration 16): lr 1.36e-05 at iteration 13') in log
    lr = {rec['iter']: rec['lr'] for rec in scalars(work) if 'lr' in rec and rec['iter'] > 12}
    assert sorted(lr) == [13, 14, 15, 16]
    assert [lr[i] for i in (13, 14, 15, 16)] == pytest.approx([5e-5 * 3 / 11, 5e-5 * 2 / 11, 5e-5 / 11, 0.0])


def test_resume_from_another_work_dir_copies_its_best_checkpoint_and_removes_nothing_there(default_run, tmp_path):
    runner, _, _ = default_run
    other = runner.work_dir
    before = {p: os.stat(p).st_mtime_ns for p in glob.glob(osp.join(other, '*.pth'))}
    best = [p for p in before if osp.basename(p).startswith('best_')][0]
    work = str(tmp_path / 'mine')
    r = run_tool(['tools/train.py', TEXT_CFG, '--work-dir', work, '--resume', osp.join(other, 'epoch_3.pth'),
                  '--cfg-options', *TINY, 'train_cfg.max_epochs=4'])
    assert r.returncode == 0, r.stderr[-3000:]
    log = r.stdout + r.stderr
    assert (f'the resumed checkpoint comes from another work dir: its best checkpoint {best} is copied to '
            f'{osp.join(work, osp.basename(best))}') in log
    # the other run's checkpoints are all there, untouched
    assert {p: os.stat(p).st_mtime_ns for p in glob.glob(osp.join(other, '*.pth'))} == before
    assert not any(f'previous best checkpoint {other}' in line for line in log.splitlines())
    mine = sorted(osp.basename(p) for p in glob.glob(osp.join(work, '*.pth')))
    assert mine[-1] == 'epoch_4.pth' and len(mine) == 2 and mine[0].startswith('best_ner_f1_epoch_')


@pytest.mark.slow
def test_resume_refuses_a_checkpoint_of_another_model(default_run, tmp_path):
    """An MRE model's weights in a checkpoint otherwise like the MNER run's, given to --resume with the MNER
    config: refused before any training, naming the key groups."""
    from mmengine.config import Config

    from pmu.apis.config import complete_config
    from pmu.registry import MODELS
    runner, _, _ = default_run
    ckpt = load_checkpoint_file(osp.join(runner.work_dir, 'epoch_3.pth'))
    mre = Config.fromfile(osp.join(REPO, 'configs/mre/textonly_minilm_mnre.py'))
    ckpt['state_dict'] = MODELS.build(complete_config(mre).model).state_dict()
    path = str(tmp_path / 'mre_epoch_3.pth')
    torch.save(ckpt, path)
    r = run_tool(['tools/train.py', TEXT_CFG, '--work-dir', str(tmp_path / 'w'), '--resume', path, '--cfg-options',
                  *TINY, 'train_cfg.max_epochs=4'])
    assert r.returncode == 1
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith(f'RuntimeError: --resume {path}: the checkpoint does not match the model MultimodalNER: ')
    assert 'missing in checkpoint (' in last and 'unexpected (' in last
    assert 'It is a checkpoint of another model' in last
    assert 'Epoch(train)' not in r.stdout + r.stderr


@HOOKS.register_module(force=True)
class _DiskFullAtEpochHook(Hook):
    """From the given epoch's end on, files may not grow past 1 MB (RLIMIT_FSIZE: a write past it fails with
    EFBIG, as on a full disk)."""

    priority = 'VERY_HIGH'

    def __init__(self, epoch):
        self.epoch = epoch

    def after_train_epoch(self, runner):
        if runner.epoch + 1 == self.epoch:
            resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))


def test_a_full_disk_leaves_no_partial_checkpoint_and_a_clear_error(tmp_path):
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails instead of killing the process
    try:
        with pytest.raises(CheckpointWriteError, match=r'cannot write .*/epoch_2\.pth \(\d+ MB\): File too large '
                           r'\(the disk is full: free space there, then --resume\); nothing was written there \(no '
                           r'partial file is left\) and the files before it are kept'):
            _run_in_process(tmp_path, {'train_cfg.max_epochs': 2}, hooks=[dict(type='_DiskFullAtEpochHook', epoch=2)])
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, handler)
    names = sorted(os.listdir(tmp_path))
    assert 'epoch_1.pth' in names and 'epoch_2.pth' not in names
    assert not [n for n in names if '.tmp-' in n]
    assert open(tmp_path / 'last_checkpoint').read().endswith('epoch_1.pth')
    assert load_checkpoint_file(str(tmp_path / 'epoch_1.pth'))['meta']['epoch'] == 1


@HOOKS.register_module(force=True)
class _SigtermWhileRewritingHook(Hook):
    """SIGTERM to this process while the epoch-1 checkpoint is written again (after validation found the first
    best score): the signal arrives a millisecond into the write, handled as tools/train.py handles it."""

    priority = 'VERY_LOW'

    def __init__(self):
        self.writes = 0

    def before_save_checkpoint(self, runner, checkpoint):
        if osp.basename(runner.message_hub.get_info('last_ckpt', '')) != 'epoch_1.pth' or 'param_schedulers' not in \
                checkpoint:
            return
        self.writes += 1
        if self.writes == 2:
            signal.signal(signal.SIGALRM, lambda *_: os.kill(os.getpid(), signal.SIGTERM))
            signal.setitimer(signal.ITIMER_REAL, 0.001)


def test_sigterm_while_a_checkpoint_is_rewritten_leaves_the_previous_one_whole(tmp_path):
    import importlib.util
    spec = importlib.util.spec_from_file_location('train_tool', osp.join(REPO, 'tools', 'train.py'))
    train_tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train_tool)
    handlers = signal.signal(signal.SIGTERM, train_tool.stop_on_sigterm), signal.getsignal(signal.SIGALRM)
    try:
        with pytest.raises(SystemExit) as stopped:
            _run_in_process(tmp_path, {'train_cfg.max_epochs': 2}, hooks=[dict(type='_SigtermWhileRewritingHook')])
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGTERM, handlers[0])
        signal.signal(signal.SIGALRM, handlers[1])
    assert stopped.value.code == 128 + signal.SIGTERM
    names = sorted(os.listdir(tmp_path))
    assert not [n for n in names if '.tmp-' in n]
    assert open(tmp_path / 'last_checkpoint').read().endswith('epoch_1.pth')
    ckpt = load_checkpoint_file(str(tmp_path / 'epoch_1.pth'))  # whole: the first write, or the second
    assert ckpt['meta']['epoch'] == 1 and 'optimizer' in ckpt and os.path.getsize(tmp_path / 'epoch_1.pth') > 1e8


def test_an_interrupted_or_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = str(tmp_path / 'epoch_1.pth')
    atomic_write(b'old', path)

    def interrupted(fd):
        raise SystemExit(143)
    monkeypatch.setattr(os, 'fsync', interrupted)
    with pytest.raises(SystemExit):
        atomic_write(b'new' * 1000, path)
    monkeypatch.undo()
    assert open(path, 'rb').read() == b'old' and os.listdir(tmp_path) == ['epoch_1.pth']
    os.chmod(tmp_path, 0o500)  # a folder that cannot be written (root ignores it: then the write succeeds)
    try:
        atomic_write(b'new', path)
    except CheckpointWriteError as e:
        assert f'cannot write {path} (0 MB): Permission denied; nothing was written there' in str(e)
        assert open(path, 'rb').read() == b'old'
    finally:
        os.chmod(tmp_path, 0o700)
