# The teacher (prompter) of PROMU: MiniLM-L6 + EfficientNet-lite0 trained with ITC alone on
# COCO-mini's train pairs, CPU schedule. Its checkpoint labels the student's data
# (SoftLabelHook in promu_minilm-effnet_coco-mini.py).
_base_ = [
    '../_base_/models/pretrain_teacher.py', '../_base_/datasets/coco-mini_pretrain.py',
    '../_base_/schedules/adamw_pretrain_3e.py', '../_base_/pretrain_runtime.py'
]
