# AdamW, linear warm-up over the first 10% of training, then linear decay to 0, 10 epochs;
# the encoders, fusion and task head get their own learning rates through lr_mult.
# `span` (pmu's key): a scheduler's begin and end as fractions of train_cfg.max_epochs, turned
# into MMEngine's begin/end when a tool loads the config, after --cfg-options (so the schedule
# follows e.g. train_cfg.max_epochs=1); `python tools/misc/print_config.py CONFIG` shows them.
optim_wrapper = dict(
    type='OptimWrapper',
    # MMEngine's DefaultOptimWrapperConstructor, refusing custom_keys that match no parameter,
    # logging one summary line instead of one line per parameter
    constructor='SummarizedOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=5e-5, betas=(0.9, 0.999), weight_decay=0.01),
    clip_grad=dict(max_norm=1.0),
    paramwise_cfg=dict(
        custom_keys={
            'text_encoder': dict(lr_mult=1.0),
            'visual_encoder': dict(lr_mult=0.2),
            'fusion': dict(lr_mult=4.0),
            'head.crf': dict(lr_mult=200.0, decay_mult=0.0),
            'head': dict(lr_mult=20.0),
        },
        norm_decay_mult=0.0,
        bias_decay_mult=0.0))
param_scheduler = [
    dict(type='SpanLinearLR', start_factor=0.01, by_epoch=True, span=(0, 0.1)),
    dict(type='SpanLinearLR', start_factor=1.0, end_factor=0.0, by_epoch=True, span=(0.1, 1)),
]
# MMEngine's EpochBasedTrainLoop that --resume continues in the middle of an epoch, exactly
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=10, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
