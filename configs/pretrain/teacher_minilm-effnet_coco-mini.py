# The teacher (prompter) of PROMU: MiniLM-L6 + EfficientNet-lite0 trained with ITC
# alone on COCO-mini's train pairs. Its checkpoint labels the student's data
# (SoftLabelHook in promu_minilm-effnet_coco-mini.py).
_base_ = [
    '../_base_/models/pretrain_lite.py', '../_base_/datasets/coco-mini_pretrain.py',
    '../_base_/default_runtime.py'
]
model = dict(
    type='PromptTeacher',
    data_preprocessor=_base_.data_preprocessor,
    text_encoder=_base_.text_encoder,
    visual_encoder=_base_.visual_encoder,
    embed_dim=256,
    text_pool='mean',  # MiniLM (sentence-transformers) was trained with mean pooling
    max_length=_base_.max_length,
    # on CPU the backward pass through EfficientNet's early stages dominates a step:
    # train its last four blocks and head only (the base configs train everything)
    frozen_parameters=[r'visual_encoder\.net\._(conv_stem|bn0|blocks\.([0-9]|1[01])\.)'],
    itc_loss=dict(type='ImageTextContrastiveLoss', temperature=0.07, temperature_range=(0.001, 0.5),
                  loss_weight=1.0))
train_dataloader = dict(dataset=dict(pipeline=_base_.train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=_base_.test_pipeline))
test_dataloader = val_dataloader

# A CPU schedule: AdamW (0.9, 0.98) as the official code, 10% warm-up then linear
# decay, gradient clipping 2.0; the new projections learn 10x faster than the encoders.
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
