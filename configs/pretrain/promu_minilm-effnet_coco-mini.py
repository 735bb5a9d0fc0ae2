# The PROMU student: MiniLM-L6 + EfficientNet-lite0 + PROMU fusion pre-trained with
# ITC + ITM + COE + CIR (equal weights, as the official code) on COCO-mini's train
# pairs, against the soft pseudo-labels of the teacher
# (teacher_minilm-effnet_coco-mini.py, trained first). Its checkpoint initialises
# configs/mner/promu_minilm-effnet_twitter2017_from-pretrain.py.
_base_ = [
    '../_base_/models/pretrain_lite.py', '../_base_/datasets/coco-mini_pretrain.py',
    '../_base_/default_runtime.py'
]
teacher_config = 'configs/pretrain/teacher_minilm-effnet_coco-mini.py'
teacher_checkpoint = 'work_dirs/teacher_minilm-effnet_coco-mini'  # its work dir: last_checkpoint
model = dict(
    type='PromuPretrainer',
    data_preprocessor=_base_.data_preprocessor,
    text_encoder=_base_.text_encoder,
    visual_encoder=_base_.visual_encoder,
    # the fusion of the fine-tuning configs (mner_promu_lite.py), so that it loads as is
    fusion=dict(type='PromuFusion', num_layers=2, num_heads=_base_.fusion_heads),
    embed_dim=256,
    text_pool='mean',
    max_length=_base_.max_length,
    # on CPU the backward pass through EfficientNet's early stages dominates a step:
    # train its last four blocks and head only (the base configs train everything)
    frozen_parameters=[r'visual_encoder\.net\._(conv_stem|bn0|blocks\.([0-9]|1[01])\.)'],
    itc_loss=dict(type='ImageTextContrastiveLoss', temperature=0.07, temperature_range=(0.001, 0.5),
                  loss_weight=1.0),
    itm_loss=dict(type='ImageTextMatchingLoss', loss_weight=1.0),
    coe_loss=dict(type='SoftLabelAlignmentLoss', loss_weight=1.0),
    cir_loss=dict(type='SoftLabelAlignmentLoss', loss_weight=1.0),
    entity_vocab=_base_.cache_dir + '/entity_vocab.txt',
    relation_vocab=_base_.cache_dir + '/relation_vocab.txt',
    # softmax(sim / tau) over the vocabulary; a sample whose largest probability is
    # below threshold gets no label (official: 0.2); hard=True: one-hot argmax.
    pseudo_labels=dict(tau=0.02, threshold=0.2, hard=False, entity_templates=dict(type='promu_entity'),
                       relation_templates=dict(type='promu_relation')))
train_dataloader = dict(dataset=dict(pipeline=_base_.train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=_base_.test_pipeline))
test_dataloader = val_dataloader
custom_hooks = [
    dict(type='CurvePlotHook', interval=5),
    dict(type='SoftLabelHook', teacher_config=teacher_config, teacher_checkpoint=teacher_checkpoint,
         image_size=_base_.image_size),
]

# The teacher's CPU schedule; the new heads and the fusion learn 10x faster.
max_epochs = 3
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=5e-5, betas=(0.9, 0.98), weight_decay=0.02),
    clip_grad=dict(max_norm=2.0),
    paramwise_cfg=dict(
        custom_keys={
            'text_proj': dict(lr_mult=10.0),
            'vision_proj': dict(lr_mult=10.0),
            'itc_loss.temp': dict(lr_mult=10.0, decay_mult=0.0),
            'fusion': dict(lr_mult=4.0),
            'itm_head': dict(lr_mult=10.0),
            'coe_head': dict(lr_mult=10.0),
            'cir_head': dict(lr_mult=10.0),
        },
        norm_decay_mult=0.0,
        bias_decay_mult=0.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=0.1 * max_epochs,
         convert_to_iter_based=True),
    dict(type='LinearLR', start_factor=1.0, end_factor=0.0, by_epoch=True, begin=0.1 * max_epochs,
         end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    logger=dict(interval=5),
    checkpoint=dict(interval=1, max_keep_ckpts=1, save_best=None))
