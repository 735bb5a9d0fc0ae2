# The PROMU student on the first 2000 photos of Flickr8k's train split (10,000 pairs), labelled online
# by the teacher of the same scale (teacher_minilm-effnet_flickr8k-10k.py, trained first): a point of
# the data-scale curve (docs/pretraining.md, "Data scale").
_base_ = './promu_minilm-effnet_flickr8k.py'
train_dataloader = dict(dataset=dict(max_images=2000))
custom_hooks = [
    *_base_.custom_hooks[:-1],
    dict(_base_.custom_hooks[-1], teacher_config='configs/pretrain/teacher_minilm-effnet_flickr8k-10k.py',
         teacher_checkpoint='work_dirs/teacher_minilm-effnet_flickr8k-10k'),
]
