"""tools/misc/print_config.py --steps: each step of completion, what it does and the keys it changed."""
import os.path as osp
import sys

from tests.conftest import REPO

sys.path.insert(0, osp.join(REPO, 'tools', 'misc'))
import print_config  # noqa: E402


def test_steps_lists_each_step_with_its_keys(capsys):
    print_config.main([osp.join(REPO, 'configs/mner/textonly_minilm_twitter2017.py'), '--steps'])
    out = capsys.readouterr().out.splitlines()
    heads = [line for line in out if not line.startswith(' ')]
    assert [h.split(':')[0] for h in heads] == [
        'model_labels', 'text_only_pipelines', 'tokenizing_steps', 'pretraining_caches', 'scheduler_spans']
    assert heads[0].startswith('model_labels: ``model.tags`` (from ``tags``, else ``entity_types``')
    assert out[out.index(heads[0]) + 1] == '    model.tags'
    assert out[out.index(heads[3]) + 1] == '    (nothing to change)'


def test_a_wrong_config_path_is_one_line_with_the_closest_configs(repo_cwd):
    import pytest
    with pytest.raises(SystemExit) as stop:
        print_config.main(['configs/mner/textonly_minilm_twiter2017.py', '--steps'])
    assert str(stop.value) == (
        'tools/misc/print_config.py: error: config configs/mner/textonly_minilm_twiter2017.py not found; did you '
        'mean configs/mner/textonly_minilm_twitter2017.py or configs/mner/textonly_minilm_twitter2015.py or '
        'configs/mner/textonly_minilm_twitter2017_cap-catr.py?')
