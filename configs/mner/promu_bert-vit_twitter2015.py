# PROMU fusion over bert-base-uncased + ViT-B/16 on Twitter-2015 (UMT), 10 epochs.
_base_ = [
    '../_base_/models/mner_promu.py', '../_base_/datasets/twitter2015.py',
    '../_base_/schedules/adamw_lin-warmup-decay_10e.py', '../_base_/default_runtime.py'
]
model = dict(_base_.encoders.bert_vit, fusion=dict(num_layers=6))
