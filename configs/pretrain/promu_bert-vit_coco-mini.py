# The PROMU student on the paper's backbones, bert-base-uncased + ViT-B/16 (in21k), whose
# single-stream fusion is bert-base's upper 6 of 12 layers (official fusion_layer=6), and
# schedule (batch 128 per GPU; the paper uses 8 GPUs). Teacher: teacher_bert-vit_coco-mini.py.
# A GPU is needed.
_base_ = [
    '../_base_/models/pretrain_promu.py', '../_base_/datasets/coco-mini_pretrain.py',
    '../_base_/schedules/adamw_pretrain_10e.py', '../_base_/pretrain_runtime.py'
]
model = dict(_base_.encoders.bert_vit, text_pool='cls', frozen_parameters=[], fusion=dict(num_layers=6))
custom_hooks = [
    *_base_.custom_hooks,
    dict(type='SoftLabelHook', teacher_config='configs/pretrain/teacher_bert-vit_coco-mini.py',
         teacher_checkpoint='work_dirs/teacher_bert-vit_coco-mini', image_size=_base_.image_size),
]
train_dataloader = dict(batch_size=128, num_workers=4)
val_dataloader = dict(num_workers=4)
test_dataloader = val_dataloader
