# PROMU fusion over bert-base-uncased + ViT-B/16 on MNRE, 10 epochs.
_base_ = [
    '../_base_/models/mre_promu.py', '../_base_/datasets/mnre.py',
    '../_base_/schedules/adamw_lin-warmup-decay_mre_10e.py', '../_base_/default_runtime.py'
]
model = dict(_base_.encoders.bert_vit, fusion=dict(num_layers=6))
