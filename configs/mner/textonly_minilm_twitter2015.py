# Text-only minilm-CRF baseline on twitter2015 (lite variant).
_base_ = [
    '../_base_/models/mner_textonly_lite.py', '../_base_/datasets/twitter2015.py',
    '../_base_/schedules/adamw_4e.py', '../_base_/default_runtime.py'
]
model = dict(tags=_base_.tags)
train_dataloader = dict(dataset=dict(pipeline=_base_.train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=_base_.test_pipeline))
test_dataloader = val_dataloader
