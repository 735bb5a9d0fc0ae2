# PROMU over all-mpnet-base-v2 + EfficientNet-lite0 on Twitter-2017 with each tweet's BLIP-2 caption as the second text
# segment
# (captions: ../_base_/datasets/captions.py, docs/captions.md).
_base_ = ['./promu_mpnet-effnet_twitter2017.py', '../_base_/datasets/captions.py']
train_dataloader = dict(dataset=dict(captions=_base_.captions.twitter2017_blip2))
val_dataloader = dict(dataset=dict(captions=_base_.captions.twitter2017_blip2))
test_dataloader = val_dataloader
