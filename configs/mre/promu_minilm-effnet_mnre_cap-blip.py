# PROMU over MiniLM-L6 + EfficientNet-lite0 on MNRE with each post's BLIP caption as the second text segment
# (captions: ../_base_/datasets/captions.py, docs/captions.md).
_base_ = ['./promu_minilm-effnet_mnre.py', '../_base_/datasets/captions.py']
train_dataloader = dict(dataset=dict(captions=_base_.captions.mnre_blip.train))
val_dataloader = dict(dataset=dict(captions=_base_.captions.mnre_blip.val))
test_dataloader = val_dataloader
