"""tools/study.py and pmu.apis.study: study configs, runs, resumption, the table.

Most tests drive the runner with stand-in tools (tiny scripts with tools/train.py's
and tools/test.py's command lines), so the bookkeeping is tested in seconds; the
slow ones train the real text-only model on the demo data.
"""
import glob
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import textwrap

import pytest

from pmu.apis.study import (
    StudyRunner,
    aggregate,
    build_summary,
    check_only,
    check_seeds,
    eval_command,
    expand_runs,
    expand_steps,
    format_option,
    load_study,
    parse_metrics,
    render_markdown,
    run_state,
    substitute,
    train_command,
    write_summary,
)
from tests.conftest import REPO, write

FAKE_TRAIN = r'''
import argparse, json, os, sys
p = argparse.ArgumentParser()
p.add_argument('config'); p.add_argument('--work-dir')
p.add_argument('--resume', action='store_true')
p.add_argument('--cfg-options', nargs='+', default=[])
a = p.parse_args()
opts = dict(o.split('=', 1) for o in a.cfg_options)
os.makedirs(a.work_dir, exist_ok=True)
with open(os.path.join(a.work_dir, 'calls.jsonl'), 'a') as f:
    f.write(json.dumps(dict(tool='train', resume=a.resume, opts=opts, env={
        k: os.environ.get(k) for k in ('OMP_NUM_THREADS', 'CUDA_VISIBLE_DEVICES')})) + '\n')
print('training', a.config)
if opts.get('fail') == 'True':
    print('RuntimeError: the model exploded', file=sys.stderr)
    sys.exit(3)
ckpt = os.path.join(a.work_dir, 'epoch_1.pth')
for name in ('epoch_1.pth', 'best_acc_epoch_1.pth'):
    with open(os.path.join(a.work_dir, name), 'w') as f:
        f.write(opts.get('randomness.seed', '0'))
with open(os.path.join(a.work_dir, 'last_checkpoint'), 'w') as f:
    f.write(ckpt)
'''
FAKE_TEST = r'''
import argparse, json, os, sys
p = argparse.ArgumentParser()
p.add_argument('config'); p.add_argument('checkpoint'); p.add_argument('--work-dir')
p.add_argument('--cfg-options', nargs='+', default=[])
a = p.parse_args()
opts = dict(o.split('=', 1) for o in a.cfg_options)
with open(os.path.join(a.work_dir, 'calls.jsonl'), 'a') as f:
    f.write(json.dumps(dict(tool='test', checkpoint=a.checkpoint, opts=opts)) + '\n')
seed = int(open(a.checkpoint).read())
acc = 80.0 + seed + float(opts.get('bonus', 0))
acc += 100 if 'test_dataloader.dataset.ann_file' in opts else 0  # the test split
print('a log line on stderr', file=sys.stderr)
print(json.dumps({'acc': acc, 'f1': acc / 2}))
'''


def fake_tools(tmp_path):
    tools = tmp_path / 'tools'
    write(tools / 'train.py', FAKE_TRAIN)
    write(tools / 'test.py', FAKE_TEST)
    return str(tools)


def fake_model_config(tmp_path, name='model.py'):
    """A config whose test_dataloader reads <tmp>/data/test.txt (present or not)."""
    return write(tmp_path / 'configs' / name, textwrap.dedent(f'''\
        test_dataloader = dict(dataset=dict(data_root={str(tmp_path / 'data')!r},
                                            ann_file='valid.txt'))
    '''))


def study_file(tmp_path, body, name='study.py'):
    return write(tmp_path / name, textwrap.dedent(body))


def calls(run_dir):
    path = osp.join(run_dir, 'calls.jsonl')
    if not osp.isfile(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f]


# --------------------------------------------------------------------------- (1) aggregation

def ok(row, seed, acc, prec=None, test=None):
    metrics = {'val': {'acc': acc, **({'prec': prec} if prec is not None else {})}}
    if test is not None:
        metrics['test'] = {'acc': test}
    return dict(row=row, seed=seed, status='ok', metrics=metrics,
                commands={'train': f'python tools/train.py {row}.py --seed {seed}',
                          'val': f'python tools/test.py {row}.py ckpt{seed}'},
                wall_time_s={'total': 65.0})


def test_aggregate_uses_sample_std():
    assert aggregate([80, 82, 84]) == dict(n=3, mean=82.0, std=2.0)
    assert aggregate([70.5]) == dict(n=1, mean=70.5, std=0.0)
    assert aggregate([]) == dict(n=0, mean=None, std=None)


def test_summary_and_table_from_handmade_results(tmp_path):
    cfg = fake_model_config(tmp_path)
    study = load_study(study_file(tmp_path, f'''\
        work_dir = {str(tmp_path / 'wd')!r}
        metric = 'acc'
        reference = 'base'
        seeds = [0, 1, 2]
        rows = [dict(name='base', config={cfg!r}),
                dict(name='better', config={cfg!r}, metrics=['prec']),
                dict(name='todo', config={cfg!r}, seeds=[0])]
    '''))
    results = {
        'base': [ok('base', 0, 80.0, test=70.0), ok('base', 1, 82.0, test=72.0),
                 ok('base', 2, 84.0, test=74.0)],
        'better': [ok('better', 0, 85.0, prec=60.0),
                   dict(row='better', seed=1, status='failed', metrics={},
                        commands={'train': 'python tools/train.py better.py'},
                        error='tools/train.py exited with 1: CUDA out of memory', log='x/run.log'),
                   ok('better', 2, 87.0, prec=62.0)],
        'todo': [dict(row='todo', seed=0, status='pending', metrics={}, commands={})],
    }
    summary = build_summary(study, results)
    base, better, todo = summary['rows']
    assert (base['n'], base['mean'], base['std'], base['delta']) == (3, 82.0, 2.0, 0.0)
    assert better['n'] == 2 and better['mean'] == 86.0
    assert better['std'] == pytest.approx(2 ** 0.5)
    assert better['delta'] == pytest.approx(4.0)
    assert (better['n_ok'], better['n_failed']) == (2, 1)
    assert better['metrics']['val']['prec']['mean'] == 61.0
    assert better['metrics']['val']['prec']['delta'] is None  # base has no 'prec'
    assert base['metrics']['test']['acc']['mean'] == 72.0
    assert todo['n'] == 0 and todo['mean'] is None and todo['n_pending'] == 1
    assert summary['counts'] == dict(total=7, ok=5, failed=1, pending=1)

    md = render_markdown(summary)
    main_table = md.split('## Other metrics')[0]
    table = {line.split('|')[1].strip(): line for line in main_table.splitlines()
             if line.startswith('| `')}
    assert '82.00 ± 2.00' in table['`base`'] and 'ref.' in table['`base`']
    assert '72.00 ± 2.00' in table['`base`']  # the test split gets its own column
    assert '86.00 ± 1.41' in table['`better`'] and '+4.00' in table['`better`']
    assert '1: **failed**' in table['`better`'] and '0: 85.00' in table['`better`']
    assert '0: pending' in table['`todo`']
    assert '| `better` | val | `prec` | 2 | 61.00 ± 1.41 | — |' in md
    assert '## Failed runs' in md and 'CUDA out of memory' in md
    # every run's commands, the failed one's too
    assert 'python tools/test.py base.py ckpt2' in md
    assert 'python tools/train.py better.py\n' in md


def test_summarise_rebuilds_from_result_files(tmp_path):
    cfg = fake_model_config(tmp_path)
    path = study_file(tmp_path, f'''\
        work_dir = {str(tmp_path / 'wd')!r}
        metric = 'acc'
        reference = 'a'
        rows = [dict(name='a', config={cfg!r}, seeds=[0, 1]), dict(name='b', config={cfg!r})]
    ''')
    for row, seed, acc in (('a', 0, 70.0), ('a', 1, 74.0), ('b', 0, 75.0)):
        write(tmp_path / 'wd' / row / f'seed{seed}' / 'result.json',
              json.dumps(ok(row, seed, acc)))
    r = subprocess.run([sys.executable, 'tools/study.py', path, '--summarise'], cwd=REPO,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert '3/3 runs finished' in r.stdout
    data = json.load(open(tmp_path / 'wd' / 'study.json'))
    assert [(row['name'], row['mean'], row['delta']) for row in data['rows']] == [
        ('a', 72.0, 0.0), ('b', 75.0, 3.0)]
    assert len(data['runs']) == 3
    assert '+3.00' in open(tmp_path / 'wd' / 'study.md').read()


# --------------------------------------------------------------------------- (2) expansion

def test_rows_seeds_options_expand_and_substitute(tmp_path):
    cfg = fake_model_config(tmp_path)
    wd = str(tmp_path / 'wd')
    study = load_study(study_file(tmp_path, f'''\
        work_dir = {wd!r}
        metric = 'acc'
        seeds = [0, 1]
        cfg_options = {{'train_cfg.max_epochs': 1, 'model.head.dropout': 0.1}}
        before = [dict(name='teacher', config={cfg!r}),
                  dict(name='student', config={cfg!r},
                       cfg_options={{'custom_hooks.1.teacher_checkpoint': '{{work_dir}}/teacher'}})]
        rows = [
            dict(name='plain', config={cfg!r}),
            dict(name='init', config={cfg!r}, seeds=[5],
                 cfg_options={{'model.head.dropout': 0.3,
                              'model.pretrained.checkpoint': '{{checkpoint:student}}',
                              'model.layers': [1, 2], 'model.size': (3, 4)}}),
        ]
    '''))
    runs = expand_runs(study)
    assert [(r.name, r.seed, r.work_dir) for r in runs] == [
        # seed by seed: every row's first seed comes first
        ('plain', 0, osp.join(wd, 'plain', 'seed0')), ('init', 5, osp.join(wd, 'init', 'seed5')),
        ('plain', 1, osp.join(wd, 'plain', 'seed1'))]
    assert runs[0].options == {'train_cfg.max_epochs': 1, 'model.head.dropout': 0.1}
    assert runs[1].options['model.head.dropout'] == 0.3  # the row wins over the study

    cmd = train_command('python', 'tools', runs[2], runs[2].options)
    assert cmd[:5] == ['python', 'tools/train.py', study.rows[0].config, '--work-dir',
                       runs[2].work_dir]
    assert cmd[5:] == ['--cfg-options', 'randomness.seed=1', 'train_cfg.max_epochs=1',
                       'model.head.dropout=0.1']
    assert '--resume' in train_command('python', 'tools', runs[2], {}, resume=True)
    test = eval_command('python', 'tools', runs[2], runs[2].options, 'ck.pth')
    assert test[1:4] == ['tools/test.py', study.rows[0].config, 'ck.pth']
    assert not any(a.startswith('randomness.seed') for a in test)

    # {work_dir} is the study's work dir; {checkpoint:NAME} the step's last checkpoint
    steps = expand_steps(study)
    assert substitute(steps[1].options['custom_hooks.1.teacher_checkpoint'], study) == \
        osp.join(wd, 'teacher')
    with pytest.raises(FileNotFoundError, match='student'):
        substitute('{checkpoint:student}', study)
    assert substitute('{checkpoint:student}', study, dry_run=True) == '{checkpoint:student}'
    write(osp.join(wd, 'student', 'epoch_3.pth'), 'x')
    write(osp.join(wd, 'student', 'last_checkpoint'), osp.join(wd, 'student', 'epoch_3.pth'))
    assert substitute(['{checkpoint:student}', 2], study) == [
        osp.join(wd, 'student', 'epoch_3.pth'), 2]
    assert substitute('{other} stays', study) == '{other} stays'

    # --only: the rows named, and the before steps they (transitively) refer to
    assert [r.label for r in expand_runs(study, ['init'])] == ['init seed 5']
    assert [s.name for s in expand_steps(study, ['init'])] == ['teacher', 'student']
    assert [s.name for s in expand_steps(study, ['plain'])] == []
    assert [s.name for s in expand_steps(study, ['teacher'])] == ['teacher']
    with pytest.raises(ValueError, match="'nope'"):
        check_only(study, ['plain', 'nope'])

    # --seeds: the rows' runs of those seeds only, a seed no selected row has is refused
    assert [r.label for r in expand_runs(study, seeds=[1])] == ['plain seed 1']
    assert [r.label for r in expand_runs(study, ['init'], seeds=[5])] == ['init seed 5']
    check_seeds(study, None, [0, 5])
    with pytest.raises(ValueError, match=r'--seeds \[5\]: no selected row .* \(their seeds: \[0, 1\]\)'):
        check_seeds(study, ['plain'], [5])


@pytest.mark.parametrize('value,text', [
    (1, 'k=1'), (0.5, 'k=0.5'), (1e-05, 'k=1e-05'), (True, 'k=True'), (None, 'k=None'),
    ('a/b.pth', 'k=a/b.pth'), ([1, 2], 'k=[1,2]'), ((3, 4), 'k=(3,4)'),
    ([('a', 1)], 'k=[(a,1)]'),
])
def test_options_pass_through_cfg_options_unchanged(value, text):
    assert format_option('k', value) == text


@pytest.mark.parametrize('value,match', [
    ('1', "would reach the config as 1"), ('a b', 'spaces'), ('a,b', 'commas'),
    (dict(x=1), 'a dict'),
])
def test_options_that_cfg_options_would_change_are_refused(value, match):
    with pytest.raises(ValueError, match=match):
        format_option('k', value, 'row x')


@pytest.mark.parametrize('body,match', [
    ("rows = [dict(name='a')]", r"rows\[0\] has no 'config'"),
    ("rows = [dict(name='a', config='no/such.py')]",
     r"row 'a': config 'no/such.py' does not exist"),
    ("rows = [dict(name='a', config=CFG)]\nreference = 'b'",
     r"reference 'b' is not among the rows \['a'\]"),
    ("rows = [dict(name='a', config=CFG, cfg_options={'randomness.seed': 1})]", 'randomness.seed'),
    ("rows = [dict(name='a', config=CFG, seed=[1])]", r"rows\[0\]: unknown key\(s\) \['seed'\]"),
    ("rows = [dict(name='a', config=CFG), dict(name='a', config=CFG)]", 'used twice'),
    ("rows = [dict(name='a', config=CFG, seeds=[])]", 'seeds must be a non-empty list'),
    ("rows = [dict(name='a', config=CFG, cfg_options={'x': '{checkpoint:t}'})]",
     r"\{checkpoint:t\}.*not a before step"),
    ("rows = [dict(name='a', config=CFG, cfg_options={'x': 'a b'})]", r"row 'a'.*'x'"),
    ("rows = []", "'rows' is missing or empty"),
    ("rows = [dict(name='a', config=CFG)]\nseed = 1", r"unknown key\(s\) \['seed'\]"),
])
def test_study_config_errors_name_file_and_key(tmp_path, body, match):
    cfg = fake_model_config(tmp_path)
    head = "metric = 'acc'\n" if 'metric' not in body else ''
    path = study_file(tmp_path, head + body.replace('CFG', repr(cfg)))
    with pytest.raises(ValueError, match=match) as info:
        load_study(path)
    assert path in str(info.value)


def test_missing_study_file_and_metric(tmp_path):
    with pytest.raises(ValueError, match='nothere.py'):
        load_study(str(tmp_path / 'nothere.py'))
    path = study_file(tmp_path, f"rows = [dict(config={fake_model_config(tmp_path)!r})]")
    with pytest.raises(ValueError, match="'metric'"):
        load_study(path)


def test_parse_metrics_takes_the_last_json_line():
    out = 'log\n{"acc": 1}\nmore log\n{"acc": 2.5, "f1": 3}  trailing warning\nbye\n'
    assert parse_metrics(out) == {'acc': 2.5, 'f1': 3}
    assert parse_metrics('no json {here\n') is None


def test_workers_get_threads_and_gpus_round_robin(tmp_path, monkeypatch):
    cfg = fake_model_config(tmp_path)
    study = load_study(study_file(tmp_path, f"metric = 'acc'\nrows = [dict(config={cfg!r})]"))
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    monkeypatch.setattr(os, 'sched_getaffinity', lambda pid: set(range(8)), raising=False)
    runner = StudyRunner(study, workers=3, gpus=['0', '1'], tools_dir=fake_tools(tmp_path))
    envs = [runner.env(slot, 3) for slot in range(3)]
    assert [e['CUDA_VISIBLE_DEVICES'] for e in envs] == ['0', '1', '0']
    assert {e['OMP_NUM_THREADS'] for e in envs} == {'2'}
    monkeypatch.setenv('OMP_NUM_THREADS', '5')
    assert runner.env(0, 3)['OMP_NUM_THREADS'] == '5'  # a setting of the user's stays


# --------------------------------------------------------------------------- runner (stand-ins)

def test_runner_skips_resumes_retries_and_records_failures(tmp_path):
    cfg = fake_model_config(tmp_path)
    wd = str(tmp_path / 'wd')
    path = study_file(tmp_path, f'''\
        work_dir = {wd!r}
        metric = 'acc'
        reference = 'base'
        seeds = [0, 1]
        test_options = {{'test_dataloader.dataset.ann_file': 'test.txt'}}
        before = [dict(name='pre', config={cfg!r})]
        rows = [dict(name='base', config={cfg!r}),
                dict(name='bonus', config={cfg!r},
                     cfg_options={{'bonus': 2, 'load_from': '{{checkpoint:pre}}'}}),
                dict(name='broken', config={cfg!r}, cfg_options={{'fail': True}}, seeds=[0])]
    ''')
    study = load_study(path)
    lines = []
    runner = StudyRunner(study, workers=2, gpus=['3'], tools_dir=fake_tools(tmp_path),
                         printer=lines.append)
    dry = runner.dry_run()
    assert any('{checkpoint:pre}' in line for line in dry)
    assert not osp.exists(wd)  # a dry run runs nothing

    summary = runner.run()
    assert runner.failures == ['broken seed 0']
    rows = {r['name']: r for r in summary['rows']}
    assert rows['base']['mean'] == 80.5 and rows['bonus']['delta'] == 2.0
    assert rows['broken']['n_failed'] == 1
    broken = json.load(open(osp.join(wd, 'broken', 'seed0', 'result.json')))
    assert broken['status'] == 'failed' and 'the model exploded' in broken['error']
    assert 'the model exploded' in broken['log_tail']
    assert 'tools/train.py' in broken['commands']['train']
    result = json.load(open(osp.join(wd, 'bonus', 'seed1', 'result.json')))
    assert result['metrics']['val']['acc'] == 83.0
    assert 'test' not in result['metrics'] and 'test.txt does not exist' in result['test_split']
    assert result['env']['CUDA_VISIBLE_DEVICES'] == '3'
    train = calls(osp.join(wd, 'bonus', 'seed1'))[0]
    assert train['opts']['load_from'] == osp.join(wd, 'pre', 'epoch_1.pth')
    assert train['env']['CUDA_VISIBLE_DEVICES'] == '3'
    md = open(osp.join(wd, 'study.md')).read()
    assert '**failed**' in md and "before step `pre`: ok" in md
    assert any('[6/6]' in line for line in lines)

    # the test split appears: runs without a result are evaluated on it; finished ones stay
    write(tmp_path / 'data' / 'test.txt', 'x')
    os.remove(osp.join(wd, 'base', 'seed0', 'result.json'))
    # a killed training: a checkpoint but no train_done.json
    for name in ('train_done.json', 'result.json'):
        os.remove(osp.join(wd, 'base', 'seed1', name))
    before = {d: len(calls(osp.join(wd, *d.split('/')))) for d in
              ('pre', 'base/seed0', 'base/seed1', 'bonus/seed0', 'bonus/seed1', 'broken/seed0')}
    lines.clear()
    runner = StudyRunner(study, workers=2, tools_dir=fake_tools(tmp_path), printer=lines.append)
    runner.run()
    new = {d: calls(osp.join(wd, *d.split('/')))[n:] for d, n in before.items()}
    assert new['pre'] == [] and new['bonus/seed0'] == [] and new['bonus/seed1'] == []
    assert [c['tool'] for c in new['base/seed0']] == ['test', 'test']  # val, test: no training
    assert [(c['tool'], c.get('resume')) for c in new['base/seed1']] == [
        ('train', True), ('test', None), ('test', None)]
    assert [c['tool'] for c in new['broken/seed0']] == ['train']  # a failed run is retried
    assert any('base seed 1: resuming' in line for line in lines)
    assert any('bonus seed 0: finished before, skipped' in line for line in lines)
    data = json.load(open(osp.join(wd, 'study.json')))
    base = data['rows'][0]
    assert base['metrics']['test']['acc']['mean'] == 180.5
    # the recorded command reproduces the run: no --resume in it
    assert '--resume' not in json.load(open(osp.join(wd, 'base', 'seed1', 'result.json')))[
        'commands']['train']
    assert run_state(expand_runs(study, ['base'])[0]) == 'skip'


def test_seeds_run_every_row_once_now_and_the_other_seeds_later(tmp_path):
    """``--seeds 0`` trains each row's seed 0 and no other; the summary still covers the whole study
    (the other seeds pending), and a later ``--seeds 1`` adds them without touching seed 0."""
    cfg = fake_model_config(tmp_path)
    wd = str(tmp_path / 'wd')
    study = load_study(study_file(tmp_path, f'''\
        work_dir = {wd!r}
        metric = 'acc'
        seeds = [0, 1]
        rows = [dict(name='a', config={cfg!r}), dict(name='b', config={cfg!r}, cfg_options={{'bonus': 1}})]
    '''))
    lines = []
    summary = StudyRunner(study, tools_dir=fake_tools(tmp_path), printer=lines.append).run(seeds=[0])
    assert sorted(os.listdir(osp.join(wd, 'a'))) == ['seed0'] and sorted(os.listdir(osp.join(wd, 'b'))) == ['seed0']
    assert summary['counts'] == dict(summary['counts'], ok=2, pending=2)
    assert any('0 before step(s), 2 run(s)' in line for line in lines)
    summary = StudyRunner(study, tools_dir=fake_tools(tmp_path), printer=lines.append).run(seeds=[1])
    assert [len(calls(osp.join(wd, r, 'seed0'))) for r in 'ab'] == [2, 2]  # train + val, once
    assert {r['name']: r['mean'] for r in summary['rows']} == {'a': 80.5, 'b': 81.5}
    r = subprocess.run([sys.executable, osp.join(REPO, 'tools', 'study.py'), str(tmp_path / 'study.py'),
                        '--seeds', '0,7', '--dry-run'], capture_output=True, text=True, timeout=300)
    assert r.returncode != 0 and '--seeds [7]: no selected row' in r.stderr


def test_failed_before_step_stops_the_study(tmp_path):
    cfg = fake_model_config(tmp_path)
    wd = str(tmp_path / 'wd')
    study = load_study(study_file(tmp_path, f'''\
        work_dir = {wd!r}
        metric = 'acc'
        before = [dict(name='pre', config={cfg!r}, cfg_options={{'fail': True}})]
        rows = [dict(name='a', config={cfg!r})]
    '''))
    lines = []
    StudyRunner(study, tools_dir=fake_tools(tmp_path), printer=lines.append).run()
    assert any('before step pre failed' in line for line in lines)
    assert not osp.exists(osp.join(wd, 'a'))
    assert osp.isfile(osp.join(wd, 'study.md'))


# --------------------------------------------------------------------------- (3) real runs

TEXT_CFG = 'configs/mner/textonly_minilm_twitter2017.py'


def demo_options(data_root):
    """Demo tweets, one short epoch, no loader processes: seconds per run on a CPU.
    Four iterations, so that a warm-up over a quarter of training spans one."""
    options = {'train_cfg.max_epochs': 1, 'train_dataloader.dataset.indices': 16,
               'train_dataloader.batch_size': 4, 'default_hooks.logger.interval': 1}
    for split in ('train', 'val', 'test'):
        options.update({f'{split}_dataloader.dataset.data_root': data_root,
                        f'{split}_dataloader.num_workers': 0,
                        f'{split}_dataloader.persistent_workers': False})
    return options


def run_study(*args):
    env = dict(os.environ, OMP_NUM_THREADS='1')
    return subprocess.run([sys.executable, 'tools/study.py', *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_real_study_on_demo_data_skips_and_reevaluates(tmp_path):
    # the demo data plus a test split (a copy of valid.txt), so both splits are evaluated
    data = tmp_path / 'data'
    shutil.copytree(osp.join(REPO, 'demo', 'data'), data)
    shutil.copy(data / 'twitter2017' / 'valid.txt', data / 'twitter2017' / 'test.txt')
    wd = str(tmp_path / 'wd')
    path = study_file(tmp_path, f'''\
        work_dir = {wd!r}
        metric = 'ner/f1'
        reference = 'textonly'
        seeds = [0]
        cfg_options = {demo_options(str(data))!r}
        test_options = {{'test_dataloader.dataset.ann_file': 'twitter2017/test.txt'}}
        rows = [dict(name='textonly', config={TEXT_CFG!r}, metrics=['ner/precision']),
                dict(name='dropout', config={TEXT_CFG!r},
                     cfg_options={{'model.head.dropout': 0.3}})]
    ''')
    r = run_study(path, '--workers', '2')
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert r.stdout.count(': training') == 2 and r.stdout.count(': done in') == 2
    data_json = json.load(open(osp.join(wd, 'study.json')))
    for row in data_json['rows']:
        assert row['n'] == 1 and 0 <= row['mean'] <= 100 and row['std'] == 0.0
        assert 0 <= row['metrics']['test']['ner/f1']['mean'] <= 100
    assert data_json['rows'][0]['delta'] == 0.0 and data_json['rows'][1]['delta'] is not None
    md = open(osp.join(wd, 'study.md')).read()
    assert '| `textonly` | 1 |' in md and 'ner/f1 (test)' in md
    assert md.count('tools/train.py') == 2 and md.count('tools/test.py') == 4
    for row in ('textonly', 'dropout'):
        run_dir = osp.join(wd, row, 'seed0')
        assert osp.isfile(osp.join(run_dir, 'run.log'))
        assert json.load(open(osp.join(run_dir, 'result.json')))['checkpoint'].endswith('.pth')
    stamps = {p: os.stat(p).st_mtime_ns for p in
              [osp.join(wd, row, 'seed0', f) for row in ('textonly', 'dropout')
               for f in ('result.json', 'train_done.json', 'last_checkpoint')]}

    # again: everything is finished, nothing runs
    r = run_study(path, '--workers', '2')
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count('finished before, skipped') == 2 and ': training' not in r.stdout
    assert stamps == {p: os.stat(p).st_mtime_ns for p in stamps}

    # one result.json gone: that run alone is evaluated again, not trained
    os.remove(osp.join(wd, 'dropout', 'seed0', 'result.json'))
    r = run_study(path, '--workers', '2')
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'textonly seed 0: finished before, skipped' in r.stdout
    assert 'dropout seed 0: trained before, evaluating' in r.stdout
    assert ': training' not in r.stdout
    for p, stamp in stamps.items():
        if not p.endswith(osp.join('dropout', 'seed0', 'result.json')):
            assert os.stat(p).st_mtime_ns == stamp, p
    assert json.load(open(osp.join(wd, 'dropout', 'seed0', 'result.json')))['status'] == 'ok'

    # --reevaluate: every finished run is evaluated again with today's code, none trained
    before = json.load(open(osp.join(wd, 'textonly', 'seed0', 'result.json')))
    r = run_study(path, '--workers', '2', '--reevaluate')
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count('trained and evaluated before, evaluating again') == 2
    assert ': training' not in r.stdout and 'finished before, skipped' not in r.stdout
    after = json.load(open(osp.join(wd, 'textonly', 'seed0', 'result.json')))
    assert after['status'] == 'ok' and after['previous']['metrics'] == before['metrics']
    assert after['previous']['finished'] == before['finished'] != after['finished']


@pytest.mark.slow
def test_real_study_resumes_a_killed_training(tmp_path):
    wd = str(tmp_path / 'wd')
    options = demo_options(osp.join(REPO, 'demo', 'data'))
    run_dir = osp.join(wd, 'textonly', 'seed0')
    # what a study killed after epoch 1 of 2 leaves: a checkpoint, no train_done.json
    args = ['--cfg-options', 'randomness.seed=0'] + [format_option(k, v) for k, v in
                                                     options.items()]
    r = subprocess.run([sys.executable, 'tools/train.py', TEXT_CFG, '--work-dir', run_dir] + args,
                       cwd=REPO, env=dict(os.environ, OMP_NUM_THREADS='1'),
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    options['train_cfg.max_epochs'] = 2
    path = study_file(tmp_path, f'''\
        work_dir = {wd!r}
        metric = 'ner/f1'
        cfg_options = {options!r}
        rows = [dict(name='textonly', config={TEXT_CFG!r}, seeds=[0])]
    ''')
    r = run_study(path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert 'textonly seed 0: resuming the killed training' in r.stdout
    log = open(osp.join(run_dir, 'run.log')).read()
    assert 'resumed epoch: 1' in log
    assert osp.isfile(osp.join(run_dir, 'epoch_2.pth'))
    assert json.load(open(osp.join(run_dir, 'result.json')))['status'] == 'ok'
    assert write_summary(load_study(path))['rows'][0]['n'] == 1


@pytest.mark.parametrize('path', sorted(glob.glob(osp.join(REPO, 'configs', 'studies', '*.py'))),
                         ids=lambda p: osp.basename(p))
def test_maintained_study_configs_load_and_name_real_configs(path, monkeypatch):
    """Every study in configs/studies/ loads, names existing model configs, and each option key of
    each run exists in the model config it overrides (a typo would otherwise train the default)."""
    from pmu.apis.config import load_complete_config
    monkeypatch.chdir(REPO)
    study = load_study(path)
    runs = expand_steps(study) + expand_runs(study)
    assert runs
    for run in runs:
        assert osp.isfile(run.config), run.config
        cfg = load_complete_config(run.config)
        for key in run.options:
            node = cfg
            for part in key.split('.')[:-1]:
                node = node[int(part)] if isinstance(node, list) else node[part]
            assert key.split('.')[-1] in node, f'{run.name}: {key} is not in {run.config}'
