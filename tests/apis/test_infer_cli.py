"""tools/infer.py as a user runs it: one JSON line per post on stdout, the log on stderr."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from tests.conftest import REPO, write_jsonl

CONFIG = 'configs/mner/promu_minilm-effnet_twitter2017.py'
sys.path.insert(0, osp.join(REPO, 'tools'))
import infer  # noqa: E402


def test_the_cli_prints_json_lines_and_writes_the_out_dir(tmp_path, tweet_image):
    from pmu.apis import MNERInferencer
    work = tmp_path / 'work'
    work.mkdir()
    model = MNERInferencer(osp.join(REPO, CONFIG), random_weights=True, show_progress=False).model
    torch.save(dict(state_dict=model.state_dict()), work / 'epoch_1.pth')
    posts = write_jsonl(tmp_path / 'posts.jsonl', [{'text': "Kawhi Leonard's block", 'image': tweet_image},
                                                   {'text': 'Trump visits Paris'}])
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, 'tools/infer.py', CONFIG, str(work), '--input', posts,
                           '--batch-size', '2', '--out-dir', str(tmp_path / 'out'), '--no-pictures'],
                          cwd=REPO, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r['text'] for r in lines] == ["Kawhi Leonard's block", 'Trump visits Paris']
    assert lines[0]['has_image'] is True and lines[1]['note'] == 'no image given: ran text-only'
    assert 'Loaded' in proc.stderr  # the log went to stderr
    with open(tmp_path / 'out' / 'predictions.jsonl', encoding='utf-8') as f:
        assert [json.loads(line) for line in f] == lines


def test_cli_argument_errors(capsys):
    with pytest.raises(SystemExit):
        infer.parse_args([CONFIG, 'w', '--input', 'posts.jsonl', '--image', 'x.jpg'])
    assert '--image/--caption/--head/--tail go with --text' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        infer.parse_args([CONFIG, 'w', '--input', 'posts.json'])
    assert 'expected a .jsonl file' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        infer.parse_args([CONFIG, 'w'])  # neither --text nor --input
    with pytest.raises(SystemExit, match='not an MNER config'):
        infer.main([osp.join(REPO, 'configs/mre/promu_minilm-effnet_mnre.py'), 'w', '--text', 'x', '--ground', 'p'])


def test_the_tools_agree_on_flags_and_work_dirs(tmp_path):
    """--no-strict and --non-strict in both tools; infer.py takes --cfg-options, checked as elsewhere; a work
    dir means its best checkpoint to tools/test.py as to the inferencer."""
    import importlib
    test_tool = importlib.import_module('test')
    for flag in ('--no-strict', '--non-strict'):
        assert infer.parse_args([CONFIG, 'w', '--text', 'x', flag]).no_strict
        sys.argv = ['test.py', CONFIG, 'w', flag]
        assert test_tool.parse_args().non_strict
    args = infer.parse_args([CONFIG, 'w', '--text', 'x', '--cfg-options', 'max_length=64'])
    assert infer.load_config(osp.join(REPO, CONFIG), args.cfg_options).max_length == 64
    from pmu.utils.errors import ConfigKeyError, ConfigNotFoundError
    with pytest.raises(ConfigKeyError, match='max_lenght'):
        infer.load_config(osp.join(REPO, CONFIG), {'max_lenght': 64})
    with pytest.raises(ConfigNotFoundError, match='not found'):
        infer.load_config('configs/nothing.py')
    from pmu.utils.checkpoint import resolve_checkpoint
    work = tmp_path / 'run'
    work.mkdir()
    for name in ('epoch_4.pth', 'best_ner_f1_epoch_3.pth'):
        (work / name).write_bytes(b'x')
    (work / 'last_checkpoint').write_text(str(work / 'epoch_4.pth'))
    assert resolve_checkpoint(str(work), prefer_best=True).endswith('best_ner_f1_epoch_3.pth')
