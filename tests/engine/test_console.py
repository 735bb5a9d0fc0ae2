"""What the console shows of a run (a screenful) and what the log file keeps (everything)."""
import glob
import io
import logging
import os
import os.path as osp
import re
import subprocess
import sys
from types import SimpleNamespace

import pytest
from mmengine.logging import MMLogger

from pmu.engine.hooks import ReadableLoggerHook, RunSummaryHook
from pmu.engine.hooks.logger import metric_lines
from pmu.utils.progress import track
from pmu.utils.setup_env import ConsoleFilter, add_console_filter
from tests.conftest import REPO

ENV_DUMP = ('\n' + '-' * 60 + '\nSystem environment:\n    sys.platform: linux\n\nRuntime environment:\n'
            '    seed: 42\n' + '-' * 60 + '\n')


# ----------------------------------------------------------------------------- metric lines

def test_ner_metrics_make_a_headline_and_a_per_type_line():
    metrics = {'ner/f1': 83.72, 'ner/precision': 83.75, 'ner/recall': 83.69,
               'ner/LOC/precision': 80.0, 'ner/LOC/recall': 81.0, 'ner/LOC/f1': 80.5, 'ner/LOC/support': 16,
               'ner/PER/precision': 90.0, 'ner/PER/recall': 91.0, 'ner/PER/f1': 90.5, 'ner/PER/support': 40,
               'ner/strict/f1': 83.1, 'ner/strict/precision': 83.0, 'ner/strict/recall': 83.2}
    assert metric_lines(metrics, 'val', 3) == [
        'val epoch 3: ner/f1 83.72  P 83.75  R 83.69  strict f1 83.10',
        '  ner per type (f1): LOC 80.50  PER 90.50']


def test_re_and_retrieval_metrics_stay_on_one_line():
    assert metric_lines({'re/f1': 60.5, 're/precision': 61.0, 're/recall': 60.0, 're/accuracy': 90.25}, 'test') \
        == ['test: re/f1 60.50  P 61.00  R 60.00  acc 90.25']
    assert metric_lines({'retrieval/t2i_R@1': 12.5, 'retrieval/i2t_R@1': 20.0}, 'val', 1) == \
        ['val epoch 1: retrieval: t2i_R@1 12.50  i2t_R@1 20.00']


# ----------------------------------------------------------------------------- interval

@pytest.mark.parametrize('iterations, interval', [(1, 1), (4, 1), (15, 2), (211, 21), (1000, 100)])
def test_auto_interval_is_a_tenth_of_the_epoch(iterations, interval):
    hook = ReadableLoggerHook()
    hook.before_train(SimpleNamespace(train_dataloader=range(iterations)))
    assert hook.interval == interval


def test_an_integer_interval_is_kept_and_a_word_is_refused():
    hook = ReadableLoggerHook(interval=5)
    hook.before_train(SimpleNamespace(train_dataloader=range(1000)))
    assert hook.interval == 5
    with pytest.raises(TypeError, match='default_hooks.logger.interval: a number of iterations'):
        ReadableLoggerHook(interval='often')


# ----------------------------------------------------------------------------- console filter

def _mmlogger(name, tmp_path, **kwargs):
    """A fresh MMLogger writing to ``tmp_path/run.log`` and to a console kept in memory."""
    log = MMLogger(name, log_file=str(tmp_path / 'run.log'), **kwargs)
    for h in log.handlers:
        if type(h) is logging.StreamHandler:
            h.setStream(io.StringIO())
    return log


@pytest.fixture()
def logger(tmp_path):
    log = _mmlogger(f'console-{tmp_path.name}', tmp_path)
    yield log
    for h in log.handlers:
        h.close()


def _console_and_file(logger, tmp_path):
    out = ''
    for h in logger.handlers:
        h.flush()
        if type(h) is logging.StreamHandler:
            out += h.stream.getvalue()
    return out, (tmp_path / 'run.log').read_text()


def test_dumps_go_to_the_file_only(logger, tmp_path):
    add_console_filter(logger)
    add_console_filter(logger)  # once per handler
    console = [h for h in logger.handlers if type(h) is logging.StreamHandler]
    assert [sum(isinstance(f, ConsoleFilter) for f in h.filters) for h in console] == [1]
    logger.info(ENV_DUMP)
    logger.info('Config:\ndefault_scope = \'pmu\'')
    logger.info('Hooks will be executed in the following order:\nbefore_run:')
    logger.warning('"FileClient" will be deprecated in future. Please use io functions')
    logger.info('init: head.* (5 params): The value is the same before and after calling `init_weights` of X')
    logger.info('Epoch(val) [1][2/2]    ner/f1: 6.5800  ner/LOC/precision: 3.8500')
    logger.info('a pmu line for the file only', extra={'console': False})
    logger.info('train.txt: 3373 sentences, entity types [PER, LOC]')
    logger.warning('training on 64 of 3373 samples (dataset.indices)')
    logger.error('Config: an error is always shown')
    out, log = _console_and_file(logger, tmp_path)
    assert 'System environment' not in out and 'Config:\n' not in out and 'Hooks will be' not in out
    assert 'FileClient' not in out and 'same before and after' not in out and 'Epoch(val)' not in out
    assert 'for the file only' not in out
    assert 'train.txt: 3373 sentences' in out and 'training on 64 of 3373' in out
    assert 'Config: an error is always shown' in out
    for text in ('System environment', 'Config:\n', 'Hooks will be', 'FileClient', 'same before and after',
                 'Epoch(val) [1][2/2]', 'for the file only', 'train.txt: 3373 sentences', 'an error'):
        assert text in log


def test_debug_level_shows_everything(tmp_path):
    log = _mmlogger(f'debug-{tmp_path.name}', tmp_path, log_level='DEBUG')
    add_console_filter(log)
    log.info(ENV_DUMP)
    out, _ = _console_and_file(log, tmp_path)
    assert 'System environment' in out


@pytest.mark.parametrize('verbose', ['', '1'])
def test_the_runner_filters_its_own_console_and_nothing_else(monkeypatch, tmp_path, verbose):
    from pmu.engine import QuietConsoleRunner
    monkeypatch.setenv('PMU_VERBOSE', verbose)
    runner = QuietConsoleRunner.__new__(QuietConsoleRunner)  # build_logger alone, as Runner.__init__ calls it
    runner._experiment_name = f'quiet-{verbose}-{tmp_path.name}'
    log = runner.build_logger(log_file=str(tmp_path / 'run.log'))
    for h in log.handlers:
        if type(h) is logging.StreamHandler:
            h.setStream(io.StringIO())
    log.info(ENV_DUMP)
    log.info('valid.txt: 723 sentences')
    out, text = _console_and_file(log, tmp_path)
    assert ('System environment' in out) is bool(verbose) and 'valid.txt: 723 sentences' in out
    assert 'System environment' in text
    # another logger (a user's, MMEngine's own) keeps its console as it was: nothing is patched
    other = _mmlogger(f'other-{verbose}-{tmp_path.name}', tmp_path)
    assert not any(isinstance(f, ConsoleFilter) for h in other.handlers for f in h.filters)


def test_track_logs_tenths_without_a_terminal(mmlog):
    assert list(track(range(20), 'pairs', min_interval=0, tty=False)) == list(range(20))
    lines = [m for m in mmlog.lines if m.startswith('pairs [')]
    assert [int(re.match(r'pairs \[(\d+)/20\]', m).group(1)) for m in lines] == list(range(2, 21, 2))
    assert not any('\r' in m for m in lines)


# ----------------------------------------------------------------------------- a real run

@pytest.mark.slow
def test_one_epoch_run_fits_on_a_screen(tmp_path, twitter_root):
    work_dir = tmp_path / 'run'
    options = ['train_dataloader.dataset.indices=64', 'val_dataloader.dataset.indices=64', 'train_cfg.max_epochs=1',
               f'train_dataloader.dataset.data_root={twitter_root}', f'val_dataloader.dataset.data_root={twitter_root}',
               f'test_dataloader.dataset.data_root={twitter_root}']
    env = dict(os.environ, OMP_NUM_THREADS='1')
    env.pop('PMU_VERBOSE', None)
    done = subprocess.run(
        [sys.executable, 'tools/train.py', 'configs/mner/textonly_minilm_twitter2017.py', '--work-dir',
         str(work_dir), '--cfg-options', *options],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    console = done.stdout + done.stderr
    lines = console.splitlines()
    assert len(lines) <= 30, console
    for dump in ('System environment', 'Config:', 'Hooks will be executed', 'Distributed training is not used',
                 'FileClient', 'HardDiskBackend', 'same before and after'):
        assert dump not in console
    assert 'sentences, entity types' in console  # the dataset summary
    assert re.search(r'val epoch 1: ner/f1 \d+\.\d\d  P \d+\.\d\d  R \d+\.\d\d', console)
    # the closing summary, with absolute paths of files that exist
    summary = console[console.index('finished in'):].splitlines()
    assert re.match(r'finished in \d:\d\d:\d\d: best ner/f1 \d+\.\d\d at epoch 1', summary[0])
    paths = dict(re.match(r'  (\w+(?: \w+)?) +(/\S+)$', line).groups() for line in summary[1:5])
    assert set(paths) == {'best checkpoint', 'last checkpoint', 'curves', 'log'}
    assert all(osp.isabs(p) and osp.isfile(p) for p in paths.values())
    assert osp.basename(paths['curves']) == 'curves.png'
    assert paths['log'] in glob.glob(str(work_dir / '*' / '*.log'))
    with open(paths['log'], encoding='utf-8') as f:
        log = f.read()
    for dump in ('System environment', 'Config:', 'Hooks will be executed', 'Epoch(val) [1]', 'finished in'):
        assert dump in log


@pytest.mark.slow
def test_verbose_console_shows_the_dumps(tmp_path, twitter_root):
    env = dict(os.environ, OMP_NUM_THREADS='1', PMU_VERBOSE='1')
    options = ['train_dataloader.dataset.indices=16', 'val_dataloader.dataset.indices=16', 'train_cfg.max_epochs=1',
               f'train_dataloader.dataset.data_root={twitter_root}', f'val_dataloader.dataset.data_root={twitter_root}',
               f'test_dataloader.dataset.data_root={twitter_root}']
    done = subprocess.run(
        [sys.executable, 'tools/train.py', 'configs/mner/textonly_minilm_twitter2017.py', '--work-dir',
         str(tmp_path / 'run'), '--cfg-options', *options], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert 'System environment' in done.stdout and 'Hooks will be executed' in done.stdout


def test_summary_of_a_run_that_neither_trained_nor_tested_is_empty():
    runner = SimpleNamespace(_train_loop=None, hooks=[])
    assert RunSummaryHook().lines(runner) == []


def test_summary_names_the_best_epoch_and_the_files_that_exist(tmp_path):
    from mmengine.hooks import CheckpointHook

    from pmu.engine.hooks import CurvePlotHook
    ckpt = CheckpointHook(save_best='ner/f1', rule='greater')
    best = tmp_path / 'best_ner_f1_epoch_2.pth'
    last = tmp_path / 'epoch_3.pth'
    log = tmp_path / '20260101_000000' / '20260101_000000.log'
    for path in (best, last, log):
        path.parent.mkdir(exist_ok=True)
        path.write_text('x')
    (tmp_path / 'last_checkpoint').write_text(str(last))
    ckpt.best_ckpt_path = str(best)
    hub = {'best_score': 71.25}
    runner = SimpleNamespace(_train_loop=object(), hooks=[ckpt, CurvePlotHook()], work_dir=str(tmp_path),
                             message_hub=SimpleNamespace(get_info=lambda k, d=None: hub.get(k, d)),
                             logger=SimpleNamespace(log_file=str(log)))
    hook = RunSummaryHook()
    for epoch, f1 in ((1, 60.0), (2, 71.25), (3, 70.5)):
        runner.epoch = epoch
        hook.after_val_epoch(runner, {'ner/f1': f1, 'ner/precision': 50.0})
    lines = hook.lines(runner)
    assert re.fullmatch(r'finished in 0:00:\d\d: best ner/f1 71.25 at epoch 2 \(last epoch 3: 70.50\)', lines[0])
    # curves.png was never drawn: no line for it
    assert lines[1:] == [f'  best checkpoint  {best}', f'  last checkpoint  {last}', f'  log              {log}']
