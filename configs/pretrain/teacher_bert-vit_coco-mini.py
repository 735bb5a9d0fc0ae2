# The teacher (prompter) of PROMU on the paper's backbones, bert-base-uncased + ViT-B/16
# (in21k), and schedule (batch 128 per GPU; the paper uses 8 GPUs: torchrun
# --nproc_per_node 8 ... --launcher pytorch). A GPU is needed.
_base_ = [
    '../_base_/models/pretrain_teacher.py', '../_base_/datasets/coco-mini_pretrain.py',
    '../_base_/schedules/adamw_pretrain_10e.py', '../_base_/pretrain_runtime.py'
]
model = dict(_base_.encoders.bert_vit, text_pool='cls', frozen_parameters=[])
train_dataloader = dict(batch_size=128, num_workers=4)
val_dataloader = dict(num_workers=4)
test_dataloader = val_dataloader
