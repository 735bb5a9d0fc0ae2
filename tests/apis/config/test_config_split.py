"""``pmu.apis.config``: one module per job, the same public names, and completion as named, documented steps
whose changes can be listed."""
import os.path as osp

import pytest
from mmengine.config import Config

from tests.conftest import REPO

PROMU_CFG = osp.join(REPO, 'configs/mner/promu_minilm-effnet_twitter2017.py')
TEXT_CFG = osp.join(REPO, 'configs/mner/textonly_minilm_twitter2017.py')


def test_the_public_names_stay_importable_from_the_package():
    from pmu.apis import config
    for name in ('load_complete_config', 'load_tool_config', 'check_cfg_options', 'complete_config',
                 'prepare_train_config', 'prepare_test_config', 'resolve_dist_backend', 'init_cpu_distributed',
                 'amp_optim_wrapper', 'pin_memory_on_cuda', 'ConfigKeyError', 'ConfigValueError', 'TOKENIZING_STEPS'):
        assert hasattr(config, name), name
    assert {f.__module__ for f in (config.load_tool_config, config.check_cfg_options, config.complete_config,
                                   config.prepare_train_config)} == {
        'pmu.apis.config.loading', 'pmu.apis.config.overrides', 'pmu.apis.config.completion',
        'pmu.apis.config.runtime'}


def test_completion_is_its_named_documented_steps_in_order():
    from pmu.apis.config import COMPLETION_STEPS, complete_config
    assert [s.__name__ for s in COMPLETION_STEPS] == [
        'model_labels', 'text_only_pipelines', 'tokenizing_steps', 'pretraining_caches', 'scheduler_spans']
    assert all(s.__doc__.strip() for s in COMPLETION_STEPS)
    by_steps = Config.fromfile(TEXT_CFG)
    for step in COMPLETION_STEPS:
        step(by_steps)
    assert by_steps.pretty_text == complete_config(Config.fromfile(TEXT_CFG)).pretty_text


def test_completion_changes_name_the_keys_of_each_step():
    from pmu.apis.config import completion_changes
    changes = dict(completion_changes(Config.fromfile(TEXT_CFG)))
    assert changes['model_labels'] == ['model.tags']
    # the text-only model drops LoadImage: each pipeline list is named whole
    assert 'train_dataloader.dataset.pipeline' in changes['text_only_pipelines']
    assert 'train_dataloader.dataset.pipeline.0.tokenizer' in changes['tokenizing_steps']
    assert 'train_dataloader.dataset.pipeline.0.max_length' in changes['tokenizing_steps']
    assert changes['pretraining_caches'] == []
    assert 'param_scheduler.0.begin' in changes['scheduler_spans'] and \
        'param_scheduler.0.span' in changes['scheduler_spans']
    # a completed config: nothing left to change
    cfg = Config.fromfile(PROMU_CFG)
    completion_changes(cfg)
    assert all(keys == [] for _, keys in completion_changes(cfg))


def test_a_step_without_a_docstring_is_refused():
    from pmu.apis.config import completion_step

    def undocumented(cfg):
        pass
    with pytest.raises(ValueError, match='completion step undocumented has no docstring'):
        completion_step(undocumented)


def test_a_value_that_cannot_be_derived_is_a_config_error_naming_the_key():
    from pmu.apis.config import ConfigError, complete_config
    cfg = Config.fromfile(TEXT_CFG)
    cfg.pop('entity_types')
    with pytest.raises(ConfigError, match=r'model\.tags is not set and cannot be derived'):
        complete_config(cfg)
    assert issubclass(ConfigError, ValueError)


def test_train_cfg_without_type_is_checked_as_the_loop_the_runner_builds():
    """pmu's scope maps EpochBasedTrainLoop to its own loop; a train_cfg without type is checked against it."""
    from pmu.apis.config import ConfigKeyError, check_cfg_options
    from pmu.registry import LOOPS
    cfg = Config.fromfile(TEXT_CFG)
    cfg.train_cfg.pop('type', None)
    with pytest.raises(ConfigKeyError, match=rf"train_cfg \({LOOPS.get('EpochBasedTrainLoop').__name__}\) takes no "
                                             r"'max_epoch'"):
        check_cfg_options(cfg, {'train_cfg.max_epoch': 1})
