"""Every config under configs/ loads complete, and every lite MNER/MRE config trains for a few steps.

The completeness check runs on all configs (bases and study configs aside): the file
loads through the tools' path (``load_tool_config`` → ``complete_config``), every
component type is registered, the model has its tag set or relations and its
tokenizer's entity markers, every pipeline tokenises with the model's encoder, and the
learning-rate schedule builds and decays to 0 over ``train_cfg.max_epochs``, also after
``--cfg-options train_cfg.max_epochs=1``.

The smoke runs (``slow``) train each lite MNER/MRE config for one epoch on 32 real
samples, in-process. Not run, only checked: the bert-vit configs (their weights come from
the Hugging Face hub, and the tests run offline), and the pre-training and ``_from-promu``
configs (they need a pseudo-label cache or a pre-training checkpoint: tests/models/pretrainers
trains those).
"""
import argparse
import glob
import os.path as osp
import uuid

import pytest
import torch

from pmu.apis.config import complete_config, load_complete_config, load_tool_config
from tests.conftest import DEMO_DATA, REPO, real_data_root, require_real_data, write

CONFIGS = sorted(
    osp.relpath(p, REPO) for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True)
    if f'{osp.sep}_base_{osp.sep}' not in p and f'{osp.sep}studies{osp.sep}' not in p)
MODEL_CONFIGS = [c for c in CONFIGS if not c.startswith(osp.join('configs', 'prepare'))]
# lite MNER/MRE configs that need neither hub weights nor a pre-training checkpoint; the
# orthogonality promu_* configs are the mner/mre ones under another path
SMOKE = [c for c in MODEL_CONFIGS
         if 'minilm' in c and '_from-promu' not in c
         and not c.startswith(('configs/pretrain/', 'configs/orthogonality/promu_'))]
SCHEDULE_LENGTH = 200  # iterations per epoch when the schedules are stepped through (MNRE's: 383)


def _tool_load(config, cfg_options=None):
    args = argparse.Namespace(config=osp.join(REPO, config), cfg_options=cfg_options, launcher='none',
                              work_dir=None)
    return load_tool_config(args)


def _walk(obj):
    if isinstance(obj, dict):
        yield obj
        for v in obj.values():
            yield from _walk(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _walk(v)


def _registered(registry, cfg, where):
    assert registry.get(cfg['type']) is not None, f"{where}: type {cfg['type']!r} is not registered"


def _lrs_over_training(cfg, epoch_length=SCHEDULE_LENGTH):
    """The learning rate of a one-parameter optimiser at every iteration of the schedule."""
    from pmu.registry import PARAM_SCHEDULERS  # pmu's SpanLinearLR, and MMEngine's through the parent
    base_lr = 1.0
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base_lr)
    per_iter, per_epoch = [], []
    for s in cfg.param_scheduler:
        s = dict(s)
        cls = PARAM_SCHEDULERS.get(s.pop('type'))
        if s.pop('convert_to_iter_based', False) and s.get('by_epoch', True):
            per_iter.append(cls.build_iter_from_epoch(opt, **s, epoch_length=epoch_length))
        elif s.get('by_epoch', True):
            per_epoch.append(cls(opt, **s))
        else:
            per_iter.append(cls(opt, **s))
    lrs = []
    for _ in range(cfg.train_cfg.max_epochs):
        for _ in range(epoch_length):
            lrs.append(opt.param_groups[0]['lr'])
            opt.step()
            for s in per_iter:
                s.step()
        for s in per_epoch:
            s.step()
    return lrs, opt.param_groups[0]['lr']


@pytest.mark.parametrize('config', CONFIGS)
def test_config_loads_complete(config):
    from pmu.registry import DATASETS, DETECTORS, ENTITY_FINDERS, HOOKS, METRICS, MODELS, TRANSFORMS
    cfg = _tool_load(config)
    assert cfg.work_dir == osp.join('work_dirs', osp.splitext(osp.basename(config))[0])
    if 'model' not in cfg:  # pseudo-label preparation
        _registered(DETECTORS, cfg.detector, 'detector')
        _registered(ENTITY_FINDERS, cfg.entity_finder, 'entity_finder')
        return
    # pmu's loop, checkpoint hook and optimizer constructor, each under its own name
    assert cfg.train_cfg.type == 'ResumableEpochBasedTrainLoop'
    assert cfg.default_hooks.checkpoint.type == 'AtomicCheckpointHook'
    assert cfg.optim_wrapper.constructor == 'SummarizedOptimWrapperConstructor'
    model = cfg.model
    _registered(MODELS, model, 'model')
    for key in ('text_encoder', 'visual_encoder', 'caption_encoder', 'fusion', 'head', 'data_preprocessor'):
        if model.get(key):
            _registered(MODELS, model[key], f'model.{key}')
    if model.type == 'MultimodalNER':
        from pmu.datasets import bio_tags
        assert model.tags == bio_tags(cfg.train_dataloader.dataset.entity_types)
    if model.type == 'MultimodalRE':
        assert model.relations == list(cfg.relations) and len(model.relations) == 23
        assert tuple(model.text_encoder.extra_special_tokens) == tuple(cfg.entity_markers)
    if model.get('pretrained'):
        assert model.pretrained.checkpoint and model.pretrained.key_map
        # every encoder the model has loads from the checkpoint
        encoders = {f'{k}.' for k in ('text_encoder', 'visual_encoder') if model.get(k)}
        assert encoders and set(model.pretrained.key_map) >= encoders
    for split in ('train', 'val', 'test'):
        loader = cfg[f'{split}_dataloader']
        if loader is None:  # e.g. pre-training without ITC: nothing to validate on
            continue
        _registered(DATASETS, loader.dataset, f'{split}_dataloader.dataset')
        steps = loader.dataset.pipeline
        for step in steps:
            _registered(TRANSFORMS, step, f'{split}_dataloader.dataset.pipeline')
            if step['type'] in ('TokenizeWords', 'InsertEntityMarkers'):
                assert step['tokenizer'] == model.text_encoder.name_or_path
                assert step['max_length'] == cfg.max_length
        # a text-only model decodes no image
        assert any(s['type'] == 'LoadImage' for s in steps) == bool(model.get('visual_encoder'))
        if 'cache_dir' in loader.dataset:
            assert loader.dataset.cache_dir == cfg.cache_dir
    for ev in (cfg.val_evaluator, cfg.test_evaluator):
        if ev is not None:
            _registered(METRICS, ev, 'evaluator')
    for hook in cfg.custom_hooks:
        _registered(HOOKS, hook, 'custom_hooks')
    if model.get('entity_vocab'):
        assert model.entity_vocab == osp.join(cfg.cache_dir, 'entity_vocab.txt')
    # nothing left for complete_config to fill
    assert not [d for d in _walk(cfg._cfg_dict.to_dict()) if 'span' in d]
    assert model.get('tags', 'x') is not None and model.get('relations', 'x') is not None


@pytest.mark.parametrize('config', MODEL_CONFIGS)
@pytest.mark.parametrize('epochs', [None, 1])
def test_schedule_decays_to_zero_over_max_epochs(config, epochs):
    cfg = _tool_load(config, {'train_cfg.max_epochs': epochs} if epochs else None)
    lrs, last = _lrs_over_training(cfg)
    assert len(lrs) == cfg.train_cfg.max_epochs * SCHEDULE_LENGTH
    # warm-up, then decay (the MRE warm-up overlaps the decay: its peak is lower)
    assert lrs[0] < 0.05 and max(lrs) > 0.3, 'the schedule should warm up'
    assert last == pytest.approx(0.0, abs=1e-6), 'the schedule should end at 0'


def test_teacher_with_one_epoch_builds_its_schedulers_and_ends_at_zero():
    cfg = _tool_load('configs/pretrain/teacher_minilm-effnet_coco-mini.py', {'train_cfg.max_epochs': 1})
    warmup, decay = cfg.param_scheduler
    assert (warmup.begin, warmup.end, decay.begin, decay.end) == (0, 0.1, 0.1, 1)
    lrs, last = _lrs_over_training(cfg, epoch_length=50)
    assert lrs[0] == pytest.approx(0.01) and max(lrs) == pytest.approx(1.0, abs=0.03)
    assert last == pytest.approx(0.0, abs=1e-6) and lrs[-1] < 0.05


def test_one_cache_dir_key_moves_the_whole_pre_training(tmp_path):
    cfg = _tool_load('configs/pretrain/promu_minilm-effnet_coco-mini.py', {'cache_dir': str(tmp_path)})
    for split in ('train', 'val', 'test'):
        assert cfg[f'{split}_dataloader'].dataset.cache_dir == str(tmp_path)
    assert cfg.model.entity_vocab == osp.join(str(tmp_path), 'entity_vocab.txt')
    assert cfg.model.relation_vocab == osp.join(str(tmp_path), 'relation_vocab.txt')


def test_completion_keeps_explicit_values_and_is_idempotent():
    cfg = load_complete_config(osp.join(REPO, 'configs/mre/promu_minilm-effnet_mnre.py'),
                      {'train_dataloader.dataset.pipeline.2.max_length': 64})
    steps = cfg.train_dataloader.dataset.pipeline
    assert steps[2]['max_length'] == 64 and steps[1]['max_length'] == 128
    before = cfg.pretty_text
    complete_config(cfg)
    assert cfg.pretty_text == before


def test_underivable_values_are_named(tmp_path):
    from mmengine.config import Config
    base = osp.join(REPO, 'configs', '_base_')
    # a model base without a dataset: no tag set anywhere
    cfg = Config.fromfile(write(tmp_path / 'no_data.py', f"_base_ = ['{base}/models/mner_promu.py']\n"))
    with pytest.raises(ValueError, match=r'model\.tags is not set .*entity_types'):
        complete_config(cfg)
    # a pipeline step cannot get a tokenizer from a model without a text encoder name
    cfg = Config.fromfile(write(tmp_path / 'no_tokenizer.py', f'''
_base_ = ['{base}/models/mner_promu.py', '{base}/datasets/twitter2017.py']
model = dict(text_encoder=dict(_delete_=True, type='HFTextEncoder'))
'''))
    with pytest.raises(ValueError, match=r'train_dataloader\.dataset\.pipeline\.1\.tokenizer'):
        complete_config(cfg)
    # a span without an epoch count
    cfg = Config(dict(param_scheduler=[dict(type='LinearLR', span=(0, 0.1))], train_cfg=dict(max_iters=10)))
    with pytest.raises(ValueError, match=r'param_scheduler\.0\.span: train_cfg\.max_epochs'):
        complete_config(cfg)


def test_text_only_configs_drop_load_image_and_multimodal_ones_keep_it():
    text = load_complete_config(osp.join(REPO, 'configs/mre/textonly_minilm_mnre.py'))
    multi = load_complete_config(osp.join(REPO, 'configs/mre/promu_minilm-effnet_mnre.py'))
    assert [s['type'] for s in multi.train_dataloader.dataset.pipeline][1:] == \
        [s['type'] for s in text.train_dataloader.dataset.pipeline]
    assert multi.train_dataloader.dataset.pipeline[0]['type'] == 'LoadImage'


# --------------------------------------------------------------------------- smoke runs

def _data_root_for(cfg):
    """The real data root holding this config's files, else the demo set for Twitter-2017."""
    ann = cfg.train_dataloader.dataset.ann_file
    root = real_data_root(ann)
    if root:
        return root
    if ann.startswith('twitter2017/'):
        return DEMO_DATA
    return require_real_data(ann)  # skips, naming the file


@pytest.mark.slow
@pytest.mark.parametrize('config', SMOKE)
def test_lite_config_trains_one_short_epoch(config, tmp_path):
    from mmengine.runner import Runner
    cfg = load_complete_config(osp.join(REPO, config))
    root = _data_root_for(cfg)
    options = {'work_dir': str(tmp_path), 'experiment_name': f'smoke_{uuid.uuid4().hex[:8]}',
               'train_cfg.max_epochs': 1, 'default_hooks.logger.interval': 1,
               # 4 iterations: the warm-up spans of the Twitter schedule need one at least
               'train_dataloader.batch_size': 8}
    for split in ('train', 'val', 'test'):
        options.update({f'{split}_dataloader.dataset.indices': 32, f'{split}_dataloader.num_workers': 0,
                        f'{split}_dataloader.persistent_workers': False,
                        f'{split}_dataloader.dataset.data_root': root})
    cfg = load_complete_config(osp.join(REPO, config), options)
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 4
    assert osp.exists(osp.join(str(tmp_path), 'epoch_1.pth'))
    metric = 'ner/f1' if cfg.model.type == 'MultimodalNER' else 're/f1'
    assert runner.message_hub.get_scalar(f'val/{metric}').current() >= 0
