"""Runs of a study in the study's own process (pmu.apis.runs, isolated_run): the same records and
metrics as subprocesses, the output in each run's run.log, nothing left behind for the next run."""
import json
import logging
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
import warnings
from collections import Counter

import pytest
import torch
from mmengine.logging import MMLogger

from pmu.apis import runs
from pmu.apis.study import StudyRunner, failure_text, isolated_run, load_study
from tests.apis.study.test_study import TEXT_CFG, demo_options, fake_model_config, fake_tools, study_file
from tests.conftest import DEMO_DATA, REPO


def test_runs_go_in_process_where_they_can(tmp_path):
    study = load_study(study_file(tmp_path, f"metric = 'acc'\nrows = [dict(config={fake_model_config(tmp_path)!r})]"))
    assert StudyRunner(study).in_process
    assert StudyRunner(study, python=sys.executable).in_process
    assert not StudyRunner(study, in_process=False).in_process  # tools/study.py --subprocess
    for other in (dict(workers=2), dict(gpus=['0']), dict(python='/usr/bin/python2'),
                  dict(tools_dir=fake_tools(tmp_path))):
        assert not StudyRunner(study, **other).in_process, other
        with pytest.raises(ValueError, match='runs in this process need one worker'):
            StudyRunner(study, in_process=True, **other)


def test_isolated_run_keeps_output_threads_and_instances_to_the_run(tmp_path, capfd):
    threads, omp = torch.get_num_threads(), os.environ.get('OMP_NUM_THREADS')
    loggers = set(MMLogger._instance_dict)
    path = tmp_path / 'run.log'
    with open(path, 'a', encoding='utf-8', buffering=1) as log:
        with isolated_run(log, threads=threads + 1):
            assert torch.get_num_threads() == threads + 1 and os.environ['OMP_NUM_THREADS'] == str(threads + 1)
            assert not sys.stderr.isatty()  # progress as log lines
            print('a print')
            print('on stderr', file=sys.stderr)
            warnings.warn('a warning of the run', stacklevel=1)
            os.write(1, b'from file descriptor 1\n')
            logger = MMLogger.get_instance('isolated-run-test', log_file=str(tmp_path / 'mm.log'))
            logger.info('a line of the run logger')
    assert capfd.readouterr() == ('', '')  # nothing reached the console
    text = path.read_text()
    for line in ('a print', 'on stderr', 'a warning of the run', 'from file descriptor 1',
                 'a line of the run logger'):
        assert line in text, line
    assert torch.get_num_threads() == threads and os.environ.get('OMP_NUM_THREADS') == omp
    assert set(MMLogger._instance_dict) == loggers  # the run's logger is gone, its log file closed
    assert not logger.handlers
    # a handler made during the run writes to today's console, not to the closed run.log
    handler = logging.StreamHandler()
    with open(tmp_path / 'other.log', 'a', encoding='utf-8', buffering=1) as log:
        with isolated_run(log):
            handler = logging.StreamHandler()  # bound to the run's sys.stderr
    handler.emit(logging.makeLogRecord(dict(msg='after the run')))
    assert 'after the run' in capfd.readouterr().err
    assert 'after the run' not in (tmp_path / 'other.log').read_text()


def test_failure_text_is_what_the_tool_prints(monkeypatch):
    from pmu.utils.errors import ConfigKeyError
    monkeypatch.delenv('PMU_DEBUG', raising=False)
    assert failure_text('tools/train.py', ConfigKeyError('--cfg-options x: no\nkey')) == \
        'tools/train.py: error: --cfg-options x: no key'
    assert failure_text('tools/train.py', SystemExit('needs the tensorboard package')) == \
        'needs the tensorboard package'
    try:
        raise RuntimeError('the model exploded')
    except RuntimeError as e:
        text = failure_text('tools/train.py', e)
    assert text.startswith('Traceback') and text.endswith('RuntimeError: the model exploded')


def _logged(log: str, work_dir: str) -> Counter:
    """The lines MMEngine's logger wrote to a run.log, without times, timestamps and the run's own folder."""
    log = re.sub(r'^\d\d/\d\d \d\d:\d\d:\d\d ', '', log.replace(work_dir, 'WD'), flags=re.M)
    log = re.sub(r'\d{8}_\d{6}|time: [\d.]+ +data_time: [\d.]+|eta: [\d:]+|in \d:\d\d:\d\d', '', log)
    return Counter(line for line in log.splitlines() if line.startswith('- mmengine - ') and 'elapsed' not in line)


@pytest.mark.slow
def test_in_process_study_matches_subprocesses(tmp_path, capfd, monkeypatch):
    monkeypatch.chdir(REPO)
    data = tmp_path / 'data'
    shutil.copytree(DEMO_DATA, data)
    shutil.copy(data / 'twitter2017' / 'valid.txt', data / 'twitter2017' / 'test.txt')
    wd = str(tmp_path / 'wd')
    path = study_file(tmp_path, f'''\
        work_dir = {wd!r}
        metric = 'ner/f1'
        seeds = [0]
        cfg_options = {demo_options(str(data))!r}
        test_options = {{'test_dataloader.dataset.ann_file': 'twitter2017/test.txt'}}
        rows = [dict(name='textonly', config={TEXT_CFG!r}),
                dict(name='broken', config={TEXT_CFG!r}, cfg_options={{'model.nope': 1}}),
                dict(name='again', config={TEXT_CFG!r})]
    ''')
    # both modes get the same number of threads (CI sets none: the runner would give all cores)
    monkeypatch.setenv('OMP_NUM_THREADS', os.environ.get('OMP_NUM_THREADS', '1'))
    threads, loggers = torch.get_num_threads(), set(MMLogger._instance_dict)
    lines = []
    runner = StudyRunner(load_study(path), printer=lines.append)
    assert runner.in_process
    runner.run()
    assert capfd.readouterr() == ('', '')  # the runs' output is in their run.log, not on the console
    assert runner.failures == ['broken seed 0']
    assert any('again seed 0: done in' in line for line in lines)  # the study went on after the failure
    assert torch.get_num_threads() == threads and set(MMLogger._instance_dict) == loggers

    results = {row: json.load(open(osp.join(wd, row, 'seed0', 'result.json'))) for row in ('textonly', 'broken',
                                                                                         'again')}
    broken = results['broken']
    assert broken['status'] == 'failed' and broken['mode'] == 'in-process'
    assert broken['error'].startswith('tools/train.py failed after ')
    assert 'tools/train.py: error: --cfg-options model.nope' in broken['error']
    assert 'tools/train.py: error: --cfg-options model.nope' in broken['log_tail']
    first = results['textonly']
    assert first['status'] == 'ok' and first['mode'] == 'in-process'
    assert set(first['metrics']) == {'val', 'test'} and 'ner/f1' in first['metrics']['val']
    assert first['commands']['train'].split()[1:3] == ['tools/train.py', TEXT_CFG]
    assert first['commands']['test'].split()[1] == 'tools/test.py'
    assert first['env'] == {'OMP_NUM_THREADS': os.environ['OMP_NUM_THREADS']}

    # run.log: the training's and the evaluations' lines, each once; the next run's log holds the same
    # lines (no handler of the first run writes there, nothing of the second comes here)
    logs = {row: open(osp.join(wd, row, 'seed0', 'run.log')).read() for row in ('textonly', 'again')}
    for row, log in logs.items():
        assert log.count('Epoch(train) [1][4/4]') == 1, row
        assert log.count('tested in') == 2 and log.count('===== ') == 3
        assert json.loads(log.strip().splitlines()[-1]) == results[row]['metrics']['test']
    assert _logged(logs['textonly'], osp.join(wd, 'textonly')) == _logged(logs['again'], osp.join(wd, 'again'))
    assert osp.join(wd, 'again') not in logs['textonly']
    assert results['again']['metrics'] == first['metrics']

    # the same run as subprocesses: the same metrics, to the last digit
    env = dict(os.environ)
    r = subprocess.run([sys.executable, 'tools/study.py', path, '--subprocess', '--only', 'textonly',
                        '--work-dir', str(tmp_path / 'sub')], cwd=REPO, env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    sub = json.load(open(tmp_path / 'sub' / 'textonly' / 'seed0' / 'result.json'))
    assert sub['mode'] == 'subprocess' and sub['metrics'] == first['metrics']
    assert sub['commands']['train'] == first['commands']['train'].replace(wd, str(tmp_path / 'sub'))
    assert {k for k in sub if k != 'previous'} == set(first)
    sub_log = open(tmp_path / 'sub' / 'textonly' / 'seed0' / 'run.log').read()
    assert _logged(sub_log, str(tmp_path / 'sub' / 'textonly')) == _logged(logs['textonly'], osp.join(wd, 'textonly'))

    # runs.test reads the checkpoint once (the task check and the weights share it)
    import pmu.utils.checkpoint as checkpoint_module
    reads = []
    load = checkpoint_module.load_checkpoint_file
    monkeypatch.setattr(checkpoint_module, 'load_checkpoint_file', lambda *a, **k: reads.append(a) or load(*a, **k))
    options = {k: v for k, v in load_study(path).rows[0].cfg_options.items()}
    with open(tmp_path / 'test.log', 'a', buffering=1) as log, isolated_run(log):
        metrics = runs.test(TEXT_CFG, osp.join(wd, 'textonly', 'seed0'), cfg_options=options)
    assert len(reads) == 1 and metrics == first['metrics']['val']
