"""``--cfg-options`` that nothing would read stop the run naming the key; the schedule follows an
overridden number of epochs."""
import pytest

from pmu.apis.config import ConfigKeyError, load_complete_config
from tests.robustness.conftest import TEXT_CFG, run_tool, scalars


@pytest.mark.slow
def test_misspelt_top_level_key_stops_train_py_naming_the_closest_keys(tmp_path):
    r = run_tool(['tools/train.py', TEXT_CFG, '--work-dir', str(tmp_path), '--cfg-options', 'train_cfgs.max_epochs=1'])
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [  # one line, before anything is built
        "tools/train.py: error: --cfg-options train_cfgs.max_epochs: the config has no key 'train_cfgs'; "
        "did you mean 'train_cfg'?"]
    assert not list(tmp_path.iterdir())  # stopped before anything ran


@pytest.mark.parametrize('option, message', [
    ('train_cfg.max_epoch', "--cfg-options train_cfg.max_epoch: train_cfg (ResumableEpochBasedTrainLoop) takes no "
                            "'max_epoch'; did you mean 'max_epochs' or 'by_epoch'?"),
    ('optim_wrapper.optimizer.lrr', "--cfg-options optim_wrapper.optimizer.lrr: optim_wrapper.optimizer (AdamW) "
                                    "takes no 'lrr'; did you mean 'lr'?"),
    ('optim_wrapper.clip_gradient', "--cfg-options optim_wrapper.clip_gradient: optim_wrapper (OptimWrapper) takes "
                                    "no 'clip_gradient'; did you mean 'clip_grad'?"),
    ('optim_wrapper.paramwise_cfg.bias_lr_mul', "--cfg-options optim_wrapper.paramwise_cfg.bias_lr_mul: paramwise_cfg "
                                                "(the optimizer constructor's) takes no 'bias_lr_mul'; did you mean "
                                                "'bias_lr_mult' or 'bias_decay_mult'?"),
    ('param_scheduler.1.end_factr', "--cfg-options param_scheduler.1.end_factr: param_scheduler.1 (SpanLinearLR) takes "
                                    "no 'end_factr'; did you mean 'end_factor'?"),
    ('param_scheduler.5.end', "--cfg-options param_scheduler.5.end: param_scheduler is a list of 2 entries, it has no "
                              "entry '5'"),
    ('val_cfg.max_epochs', "--cfg-options val_cfg.max_epochs: val_cfg (ValLoop) takes no 'max_epochs'"),
    ('default_hooks.checkpoint.interval.x', "--cfg-options default_hooks.checkpoint.interval.x: "
                                            "default_hooks.checkpoint.interval is 1, not a dict"),
])
def test_unknown_nested_key_is_refused_naming_it(option, message):
    with pytest.raises(ConfigKeyError) as info:
        load_complete_config(TEXT_CFG, {option: 1})
    assert str(info.value).startswith(message)


def test_keys_the_components_take_may_be_added():
    cfg = load_complete_config(TEXT_CFG, {
        'train_cfg.val_begin': 2, 'optim_wrapper.optimizer.amsgrad': True, 'optim_wrapper.accumulative_counts': 2,
        'default_hooks.early_stop': dict(type='EarlyStoppingHook', monitor='ner/f1'),  # a hook of its own
        'optim_wrapper.paramwise_cfg.custom_keys.head.decay_mult': 0.0, 'work_dir': 'elsewhere',
        'model.head.dropout': 0.3})  # model.*: its constructor checks its arguments
    assert cfg.train_cfg.val_begin == 2 and cfg.optim_wrapper.accumulative_counts == 2
    assert cfg.default_hooks.early_stop.monitor == 'ner/f1' and cfg.work_dir == 'elsewhere'


def build_optimizer(options):
    from mmengine.optim import build_optim_wrapper

    from pmu.registry import MODELS
    cfg = load_complete_config(TEXT_CFG, options)
    return build_optim_wrapper(MODELS.build(cfg.model), cfg.optim_wrapper)


@pytest.mark.slow  # builds the real MiniLM-CRF model
def test_custom_key_matching_no_parameter_is_refused_naming_it():
    with pytest.raises(KeyError, match=r"optim_wrapper\.paramwise_cfg\.custom_keys: 1 key\(s\) match no parameter of "
                                       r"MultimodalNER and would change nothing: 'text_encodr': closest module names "
                                       r"\['text_encoder'"):
        build_optimizer({'optim_wrapper.paramwise_cfg.custom_keys.text_encodr': dict(lr_mult=2.0)})
    # the shared schedule's 'visual_encoder' key names a component this text-only model leaves out: allowed
    wrapper = build_optimizer({})
    assert {g['lr'] for g in wrapper.optimizer.param_groups} >= {5e-5, 5e-5 * 20, 5e-5 * 200}


@pytest.mark.slow
def test_overridden_max_epochs_gives_a_whole_schedule(tiny_mner_checkpoint):
    """train_cfg.max_epochs=1 of a 4-epoch config: warm-up in the first quarter, decayed to 0 at the last
    iteration (read from the tiny run's log, one record per iteration)."""
    import os.path as osp
    lrs = [r['lr'] for r in scalars(osp.dirname(tiny_mner_checkpoint)) if 'lr' in r]
    assert len(lrs) == 4
    assert lrs[0] == pytest.approx(5e-5 * 0.01)  # warm-up start (first param group: lr_mult 1)
    assert lrs[1] == pytest.approx(5e-5)  # warm-up over (one iteration, 25 % of 4): the full learning rate
    assert lrs[2] == pytest.approx(5e-5 / 2) and lrs[3] == 0.0  # linear decay, 0 at the last iteration
