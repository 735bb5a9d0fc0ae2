"""Teacher → soft labels → student → MNER initialisation, and every ablation config, on real data and models."""
import glob
import json
import logging
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from tests.conftest import REPO
from .conftest import PRETRAIN, STUDENT_CFG, TEACHER_CFG, small_config, train

pytestmark = pytest.mark.slow
ABLATIONS = sorted(glob.glob(osp.join(PRETRAIN, 'promu_minilm-effnet_coco-mini_*.py')))


def _train_logs(runner):
    return {k[len('train/'):] for k in runner.message_hub.log_scalars if k.startswith('train/')}


@pytest.fixture(scope='session')
def student(cache_dir, teacher_dir, tmp_path_factory):
    work = tmp_path_factory.mktemp('student')
    cfg = small_config(STUDENT_CFG, cache_dir, work, **{
        'custom_hooks.1.teacher_checkpoint': teacher_dir,
        # a teacher of two iterations is not confident: keep every label so COE/CIR get gradients
        'model.pseudo_labels.threshold': 0.0})
    runner = train(cfg)
    return runner, str(work)


def test_teacher_checkpoint_and_retrieval(teacher_dir):
    assert osp.exists(osp.join(teacher_dir, 'epoch_1.pth'))
    scalars = json.loads(open(glob.glob(osp.join(teacher_dir, '*', 'vis_data', 'scalars.json'))[0]).readline())
    assert 'loss_itc' in scalars and 'itc_temp' in scalars
    evaluated = [json.loads(line) for line in open(glob.glob(osp.join(teacher_dir, '*', 'vis_data',
                                                                        'scalars.json'))[0])]
    assert any('retrieval/t2i_R@1' in e for e in evaluated)


def test_student_logs_each_loss_and_uses_the_teachers_labels(student):
    runner, work = student
    logs = _train_logs(runner)
    assert {'loss_itc', 'loss_itm', 'loss_coe', 'loss_cir', 'itc_temp', 'itm_acc', 'coe_labelled', 'cir_labelled',
            'coe_agreement', 'cir_agreement', 'cir_skipped_crop', 'align_skipped_mismatched'} <= logs
    assert runner.message_hub.get_scalar('train/loss_coe').current() > 0
    assert runner.message_hub.get_scalar('train/loss_cir').current() > 0
    summary = json.load(open(osp.join(work, 'soft_labels', 'summary.json')))
    assert summary['images'] == 2 and summary['cir_labelled'] == 1.0  # 8 pairs = 2 images, threshold 0
    model = runner.model
    assert model.soft_labels['cir'].shape == (2, len(open(model.relation_vocab).read().split('\n')) - 1)
    assert osp.exists(osp.join(work, 'epoch_1.pth')) and osp.isfile(osp.join(work, 'curves.png'))


def test_student_checkpoint_initialises_mner_through_one_config_key(student, caplog):
    from mmengine.logging import MMLogger

    from pmu.apis.config import complete_config
    from pmu.registry import MODELS
    _, work = student
    ckpt = osp.join(work, 'epoch_1.pth')
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'mner', 'promu_minilm-effnet_twitter2017_from-promu.py'))
    cfg.merge_from_dict({'model.pretrained.checkpoint': ckpt})
    complete_config(cfg)
    model = MODELS.build(cfg.model)
    logger = MMLogger.get_instance('pmu_from_pretrain_test')
    messages = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage())
    logger.addHandler(handler)
    from pmu.utils.checkpoint import load_mapped_checkpoint
    result = load_mapped_checkpoint(model, logger=logger, **cfg.model.pretrained)
    report = '\n'.join(messages)
    assert f'from {ckpt}' in report and 'missing in checkpoint' in report
    # everything but the CRF head comes from pre-training; nothing is left over or of another shape
    assert result.missing_keys and all(k.startswith('head.') for k in result.missing_keys)
    assert not result.unexpected_keys and 'shape mismatch (skipped): 0' in report
    state = torch.load(ckpt, map_location='cpu', weights_only=False)['state_dict']
    # the single-stream fusion: its projection, and the text encoder's upper layers that it runs
    for key in ('fusion.visual_proj.0.weight', 'fusion.visual_type',
                'text_encoder.model.encoder.layer.5.attention.self.query.weight',
                'text_encoder.model.encoder.layer.0.output.dense.weight', 'visual_encoder.net._conv_head.weight'):
        assert torch.equal(model.state_dict()[key], state[key]), key
    # init_weights (what the runner calls) goes through the same config key
    model2 = MODELS.build(cfg.model)
    model2.init_weights()
    assert torch.equal(model2.state_dict()['fusion.visual_proj.0.weight'], state['fusion.visual_proj.0.weight'])


@pytest.mark.parametrize('config', ABLATIONS, ids=lambda p: osp.basename(p)[len('promu_minilm-effnet_coco-mini_'):-3])
def test_each_ablation_config_trains(config, cache_dir, teacher_dir, tmp_path):
    # one iteration; the teacher's labels are shared between runs that need the same ones
    cfg = small_config(config, cache_dir, tmp_path, **{
        'custom_hooks.1.teacher_checkpoint': teacher_dir, 'custom_hooks.1.cache_dir': osp.join(teacher_dir, 'labels'),
        'train_cfg.val_interval': 5, 'train_dataloader.dataset.indices': 4, 'model.pseudo_labels.threshold': 0.0})
    runner = train(cfg)
    logs = _train_logs(runner)
    name = osp.basename(config)
    for loss in ('coe', 'cir', 'itm', 'itc'):
        assert (f'loss_{loss}' in logs) == (f'no-{loss}' not in name), (name, logs)
    assert osp.exists(osp.join(str(tmp_path), 'epoch_1.pth'))
    model = runner.model
    labels = model.soft_labels
    assert model.label_source == ('online' if 'online-labels' in name else 'offline')
    assert model.itc_text_layers == ('lower' if 'itc-lower' in name else 'all')
    if 'online-labels' in name:  # the teacher labels each step's view: nothing cached, no crop skipped
        assert labels is None and model.online_teacher is not None
        assert runner.message_hub.get_scalar('train/cir_skipped_crop').current() == 0
    elif 'hard-labels' in name:
        assert set(labels['cir'].float().unique().tolist()) <= {0.0, 1.0}
    else:
        assert labels['cir'].float().max() < 1.0
    assert model.cir_source == ('visual_mean' if 'cir-visual-mean' in name else 'cls')
    assert model.itm_hard_negatives == ('no-hard-negatives' not in name)
    assert type(model.coe_head.loss_align).__name__ == ('KLDivergenceLoss' if name.endswith('_kl.py')
                                                       else 'SoftCrossEntropyLoss') if model.coe_head else True
    summary = json.load(open(osp.join(str(tmp_path), 'soft_labels', 'summary.json')))
    if 'tau-teacher' in name:  # the teacher's learned temperature, clamped
        from pmu.pseudo_labels.soft_labeler import build_teacher, teacher_temperature
        teacher, _ = build_teacher(TEACHER_CFG, teacher_dir)
        assert summary['tau_setting'] == 'teacher' and summary['tau'] == pytest.approx(teacher_temperature(teacher))
    else:
        assert summary['tau'] == model.pseudo_labels['tau']


def test_teacher_agreement_tool_function(cache_dir, teacher_dir):
    import importlib.util
    spec = importlib.util.spec_from_file_location('pretrain_eval', osp.join(REPO, 'tools', 'pretrain_eval.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    cfg = small_config(TEACHER_CFG, cache_dir, osp.join(teacher_dir, 'eval'))
    out = tool.agreement(cfg, teacher_dir, None, tau=0.05, threshold=0.2)
    assert out['images'] == 2 and out['objects'] == 2  # 8 val pairs = 2 images, one top box each
    assert out['labelled_of_objects'] <= 1
    assert 0 <= out['agreement'] <= 1 and out['agreement_objects'] <= 2


def test_student_agreement_counts_what_the_training_metric_counts(student, cache_dir, teacher_dir):
    """--student-agreement on the 8 val pairs (2 images, one box each): every pair and box in view is
    counted, threshold 0 labels them all, and the agreement equals the training path's own
    coe/cir_agreement (model.loss with online labels, eval mode) on the same pairs."""
    import importlib.util

    from mmengine.runner import Runner

    from pmu.utils.checkpoint import resolve_checkpoint
    spec = importlib.util.spec_from_file_location('pretrain_eval', osp.join(REPO, 'tools', 'pretrain_eval.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    runner, work = student
    options = {'custom_hooks.1.teacher_checkpoint': teacher_dir, 'model.pseudo_labels.threshold': 0.0}
    cfg = small_config(STUDENT_CFG, cache_dir, osp.join(work, 'agreement'), **options)
    out = tool.student_agreement(cfg, resolve_checkpoint(work))
    assert out['pairs'] == 8 and out['threshold'] == 0.0
    assert out['cir']['rows'] == 8 and out['cir']['labelled'] == 8  # threshold 0: every pair labelled
    assert 1 <= out['coe']['rows'] <= 8 and out['coe']['labelled'] == out['coe']['rows']
    # the training path's metric on the same pairs (one batch of 8) with the teacher's online labels
    from pmu.pseudo_labels.soft_labeler import SoftPromptLabeler
    model, source = runner.model, runner.model.label_source
    labels_dir = osp.join(work, 'agreement_loss')
    model.set_online_teacher(**SoftPromptLabeler.for_student(model, TEACHER_CFG, teacher_dir, cache_dir=labels_dir,
                                                             summary_dir=labels_dir).online_teacher())
    model.eval()
    model.label_source = 'online'
    try:
        (batch, ) = list(Runner.build_dataloader(cfg.test_dataloader))
        data = model.data_preprocessor(batch, False)
        with torch.no_grad():
            losses = model.loss(data['inputs'], data['data_samples'])
    finally:
        model.label_source = source
        model.train()
    agree = {'cir': float(losses['cir_agreement']) * float(losses['cir_labelled']) * 8,
             'coe': float(losses['coe_agreement']) * out['coe']['labelled']}
    assert out['cir']['agree'] == round(agree['cir'])
    assert out['coe']['agree'] == round(agree['coe'])
    assert out['cir']['agreement'] == pytest.approx(100 * out['cir']['agree'] / 8)
    for head in ('cir', 'coe'):  # the teacher's commonest label, what the agreement is read against
        top = out[head]['teacher_top5']
        assert out[head]['teacher_majority'] == top[0][0]
        assert out[head]['majority_share'] == pytest.approx(100 * top[0][1] / out[head]['labelled'])
        assert sum(n for _, n in out[head]['student_top5']) <= out[head]['labelled']
        assert 1 <= out[head]['student_distinct_labels'] <= out[head]['labelled']


def test_online_student_trains_against_a_frozen_teacher(cache_dir, teacher_dir, tmp_path):
    """label_source='online' with the teacher's learned temperature: two steps; the teacher stays as its
    checkpoint, in eval mode, out of the optimizer and the student's checkpoint; no pair is skipped for
    its crop."""
    from pmu.pseudo_labels.soft_labeler import teacher_temperature
    from pmu.utils.checkpoint import load_checkpoint_file, resolve_checkpoint
    cfg = small_config(osp.join(PRETRAIN, 'promu_minilm-effnet_coco-mini_online-labels.py'), cache_dir, tmp_path, **{
        'custom_hooks.1.teacher_checkpoint': teacher_dir, 'train_cfg.val_interval': 5,
        'model.pseudo_labels.threshold': 0.0, 'model.pseudo_labels.tau': 'teacher'})
    runner = train(cfg)
    model = runner.model
    teacher = model.online_teacher
    assert not teacher.training and not any(p.requires_grad for p in teacher.parameters())
    state = load_checkpoint_file(resolve_checkpoint(teacher_dir))['state_dict']
    for key, value in teacher.state_dict().items():
        assert torch.equal(value.cpu(), state[key]), key
    in_optimizer = {id(p) for g in runner.optim_wrapper.optimizer.param_groups for p in g['params']}
    assert not in_optimizer & {id(p) for p in teacher.parameters()}
    saved = torch.load(osp.join(str(tmp_path), 'epoch_1.pth'), map_location='cpu', weights_only=False)['state_dict']
    assert set(saved) == set(model.state_dict())  # the teacher is not saved with the student
    hub = runner.message_hub
    skipped = hub.get_scalar('train/cir_skipped_crop').data[0]
    assert len(skipped) == 2 and all(v == 0 for v in skipped)
    assert hub.get_scalar('train/cir_labelled').current() == 1.0  # threshold 0: every pair labelled
    assert hub.get_scalar('train/loss_cir').current() > 0 and hub.get_scalar('train/loss_coe').current() > 0
    summary = json.load(open(osp.join(str(tmp_path), 'soft_labels', 'summary.json')))
    assert summary['label_source'] == 'online' and summary['tau_setting'] == 'teacher'
    assert summary['tau'] == pytest.approx(teacher_temperature(teacher)) == model._online['tau']
