# The PROMU student: MiniLM-L6 + EfficientNet-lite0 + single-stream fusion pre-trained with
# ITC + ITM + COE + CIR on COCO-mini's train pairs against the soft pseudo-labels of the
# teacher (teacher_minilm-effnet_coco-mini.py, trained first), CPU schedule. Its checkpoint
# initialises the *_from-promu configs (configs/_base_/models/from-promu.py).
_base_ = [
    '../_base_/models/pretrain_promu.py', '../_base_/datasets/coco-mini_pretrain.py',
    '../_base_/schedules/adamw_pretrain_3e.py', '../_base_/pretrain_runtime.py'
]
custom_hooks = [
    *_base_.custom_hooks,
    dict(type='SoftLabelHook', teacher_config='configs/pretrain/teacher_minilm-effnet_coco-mini.py',
         teacher_checkpoint='work_dirs/teacher_minilm-effnet_coco-mini',  # its work dir: last checkpoint
         image_size=_base_.image_size),
]
