# The CPU schedule of the lite MNRE models (docs/mre.md has the figures it gives): the
# optimiser of adamw_lin-warmup-decay_mre_10e.py at lr 1e-4, 2 epochs, warm-up over the first
# 100 iterations while the linear decay to 0 runs over the whole training (its end is left
# out: it ends at train_cfg.max_epochs; `python tools/misc/print_config.py CONFIG` shows it).
_base_ = './adamw_lin-warmup-decay_mre_10e.py'
optim_wrapper = dict(optimizer=dict(lr=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='LinearLR', start_factor=1.0, end_factor=0.0, by_epoch=True, begin=0, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=2)
