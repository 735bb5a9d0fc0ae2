# Text-only MiniLM-L6-CRF on Twitter-2017 with each tweet's BLIP-2 caption as a second segment.
_base_ = ['./textonly_minilm_twitter2017.py', '../_base_/datasets/captions.py']
train_dataloader = dict(dataset=dict(captions=_base_.captions.twitter2017_blip2))
val_dataloader = dict(dataset=dict(captions=_base_.captions.twitter2017_blip2))
test_dataloader = val_dataloader
