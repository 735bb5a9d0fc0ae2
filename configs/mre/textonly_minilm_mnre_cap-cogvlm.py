# Text-only MiniLM-L6 on MNRE with each post's CogVLM caption as the second text segment
# (captions: ../_base_/datasets/captions.py, docs/captions.md).
_base_ = ['./textonly_minilm_mnre.py', '../_base_/datasets/captions.py']
train_dataloader = dict(dataset=dict(captions=_base_.captions.mnre_cogvlm.train))
val_dataloader = dict(dataset=dict(captions=_base_.captions.mnre_cogvlm.val))
test_dataloader = val_dataloader
