# Text-only BERT-CRF baseline (bert-base-uncased) on Twitter-2017, 10 epochs.
_base_ = [
    '../_base_/models/mner_textonly.py', '../_base_/datasets/twitter2017.py',
    '../_base_/schedules/adamw_lin-warmup-decay_10e.py', '../_base_/default_runtime.py'
]
model = _base_.encoders.bert
