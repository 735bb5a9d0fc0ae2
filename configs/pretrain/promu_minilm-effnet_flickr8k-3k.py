# The PROMU student on the first 600 photos of Flickr8k's train split (3,000 pairs), labelled online
# by the teacher of the same scale (teacher_minilm-effnet_flickr8k-3k.py, trained first): a point of
# the data-scale curve (docs/pretraining.md, "Data scale").
_base_ = './promu_minilm-effnet_flickr8k.py'
train_dataloader = dict(dataset=dict(max_images=600))
custom_hooks = [
    *_base_.custom_hooks[:-1],
    dict(_base_.custom_hooks[-1], teacher_config='configs/pretrain/teacher_minilm-effnet_flickr8k-3k.py',
         teacher_checkpoint='work_dirs/teacher_minilm-effnet_flickr8k-3k'),
]
