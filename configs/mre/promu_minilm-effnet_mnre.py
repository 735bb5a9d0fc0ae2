# PROMU fusion, minilm-effnet on MNRE (lite variant).
_base_ = [
    '../_base_/models/mre_promu_lite.py', '../_base_/datasets/mnre.py',
    '../_base_/schedules/adamw_10e.py', '../_base_/default_runtime.py'
]
model = dict(relations=_base_.relations)
train_dataloader = dict(dataset=dict(pipeline=_base_.train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=_base_.test_pipeline))
test_dataloader = val_dataloader
