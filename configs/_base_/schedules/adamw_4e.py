# The schedule of adamw_10e.py over 4 epochs: what the lite models need on
# Twitter (validation F1 flattens after 3-4 epochs) and what a CPU can afford.
_base_ = './adamw_10e.py'
max_epochs = 4
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='LinearLR', start_factor=1.0, end_factor=0.0, by_epoch=True, begin=1,
         end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
