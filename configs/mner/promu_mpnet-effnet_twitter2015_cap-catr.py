# PROMU over all-mpnet-base-v2 + EfficientNet-lite0 on Twitter-2015 (UMT) with each tweet's CATR caption as the second
# text segment: the caption that gained most for the lite model on Twitter-2015
# (captions: ../_base_/datasets/captions.py, docs/captions.md).
_base_ = ['./promu_mpnet-effnet_twitter2015.py', '../_base_/datasets/captions.py']
train_dataloader = dict(dataset=dict(captions=_base_.captions.twitter2015_catr))
val_dataloader = dict(dataset=dict(captions=_base_.captions.twitter2015_catr))
test_dataloader = val_dataloader
