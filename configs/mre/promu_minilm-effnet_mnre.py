# PROMU fusion, minilm-effnet on MNRE (lite variant).
_base_ = [
    '../_base_/models/mre_promu_lite.py', '../_base_/datasets/mnre.py',
    '../_base_/schedules/adamw_10e.py', '../_base_/default_runtime.py'
]
model = dict(relations=_base_.relations)
train_dataloader = dict(dataset=dict(pipeline=_base_.train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=_base_.test_pipeline))
test_dataloader = val_dataloader

# A CPU-sized schedule (see docs/mre.md for the figures it gives): 2 epochs,
# lr 1e-4, warm-up over the first 100 iterations, then linear decay to 0.
max_epochs = 2
train_cfg = dict(max_epochs=max_epochs)
optim_wrapper = dict(optimizer=dict(lr=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='LinearLR', start_factor=1.0, end_factor=0.0, by_epoch=True, begin=0,
         end=max_epochs, convert_to_iter_based=True),
]
