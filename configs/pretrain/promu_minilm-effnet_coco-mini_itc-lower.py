# Ablation: the ITC caption feature from the text-only layers below the fusion (MiniLM's lower 4),
# as the official code and ALBEF, instead of the whole text encoder (whose upper layers are also the
# fusion); the teacher (and its prompt features) split the same way:
# teacher_minilm-effnet_coco-mini_itc-lower.py, trained first.
_base_ = './promu_minilm-effnet_coco-mini.py'
model = dict(itc_text_layers='lower')
custom_hooks = [
    *_base_.custom_hooks[:-1],
    dict(_base_.custom_hooks[-1], teacher_config='configs/pretrain/teacher_minilm-effnet_coco-mini_itc-lower.py',
         teacher_checkpoint='work_dirs/teacher_minilm-effnet_coco-mini_itc-lower'),
]
