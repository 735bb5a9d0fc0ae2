# hvpnet_minilm-effnet_twitter2017_from-promu.py with each tweet's BLIP-2 caption as the second text segment
# (docs/captions.md).
_base_ = ['./hvpnet_minilm-effnet_twitter2017_from-promu.py', '../_base_/datasets/captions.py']
train_dataloader = dict(dataset=dict(captions=_base_.captions.twitter2017_blip2))
val_dataloader = dict(dataset=dict(captions=_base_.captions.twitter2017_blip2))
test_dataloader = val_dataloader
