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
