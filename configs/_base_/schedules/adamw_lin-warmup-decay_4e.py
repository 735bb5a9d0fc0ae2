# adamw_lin-warmup-decay_10e.py over 4 epochs, warming up over the first of them (25%):
# what the lite models need on Twitter (validation F1 flattens after 3-4 epochs) and
# what a CPU can afford.
_base_ = './adamw_lin-warmup-decay_10e.py'
param_scheduler = [
    dict(type='SpanLinearLR', start_factor=0.01, by_epoch=True, span=(0, 0.25)),
    dict(type='SpanLinearLR', start_factor=1.0, end_factor=0.0, by_epoch=True, span=(0.25, 1)),
]
train_cfg = dict(max_epochs=4)
