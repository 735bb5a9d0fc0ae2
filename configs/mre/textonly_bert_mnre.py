# Text-only bert-base-uncased baseline on MNRE, 10 epochs.
_base_ = [
    '../_base_/models/mre_textonly.py', '../_base_/datasets/mnre.py',
    '../_base_/schedules/adamw_lin-warmup-decay_mre_10e.py', '../_base_/default_runtime.py'
]
model = _base_.encoders.bert
