# PROMU over MiniLM-L6 + EfficientNet-lite0 on Twitter-2015 (HVPNeT) with each tweet's BLIP-2 caption as the second text
# segment
# (captions: ../_base_/datasets/captions.py, docs/captions.md).
_base_ = ['./promu_minilm-effnet_twitter2015-hvpnet.py', '../_base_/datasets/captions.py']
train_dataloader = dict(dataset=dict(captions=_base_.captions.twitter2015_blip2))
val_dataloader = dict(dataset=dict(captions=_base_.captions.twitter2015_blip2))
test_dataloader = val_dataloader
