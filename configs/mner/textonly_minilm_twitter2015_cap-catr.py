# Text-only MiniLM-L6-CRF on Twitter-2015 (UMT) with each tweet's CATR caption as the second text segment
# (captions: ../_base_/datasets/captions.py, docs/captions.md).
_base_ = ['./textonly_minilm_twitter2015.py', '../_base_/datasets/captions.py']
train_dataloader = dict(dataset=dict(captions=_base_.captions.twitter2015_catr))
val_dataloader = dict(dataset=dict(captions=_base_.captions.twitter2015_catr))
test_dataloader = val_dataloader
