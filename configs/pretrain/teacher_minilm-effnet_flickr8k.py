# The teacher (prompter) of PROMU on Flickr8k: MiniLM-L6 + EfficientNet-lite0 trained with ITC alone on
# the 30,455 train pairs (6,091 photos), validated by retrieval on the 1k test photos (5,000 captions).
# The COCO-mini teacher with another dataset base; its checkpoint labels the student's data
# (SoftLabelHook in promu_minilm-effnet_flickr8k.py). 3 epochs of 952 iterations (batch 32).
_base_ = [
    '../_base_/models/pretrain_teacher.py', '../_base_/datasets/flickr8k_pretrain.py',
    '../_base_/schedules/adamw_pretrain_3e.py', '../_base_/pretrain_runtime.py'
]
default_hooks = dict(logger=dict(interval=50))
