# PROMU pre-training as the paper (official code): the schedule of
# adamw_lin-warmup-decay_10e.py (10 epochs, linear warm-up over the first 10%, linear decay
# to 0) with AdamW (0.9, 0.98), lr 5e-5 for all parameters, weight decay 0.02 and gradient
# clipping 2.0. The paper's batch is 128 per GPU x 8 GPUs.
_base_ = './adamw_lin-warmup-decay_10e.py'
optim_wrapper = dict(
    optimizer=dict(betas=(0.9, 0.98), weight_decay=0.02),
    clip_grad=dict(max_norm=2.0),
    paramwise_cfg=dict(custom_keys=dict(_delete_=True)))  # one learning rate for all
