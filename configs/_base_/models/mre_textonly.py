# Text-only MRE baseline: entity markers, [<s>; <o>] states, MLP; no visual encoder, so
# complete_config drops LoadImage from the pipelines. Layout: README.md in this folder.
_base_ = './encoders.py'
model = dict(
    type='MultimodalRE',
    relations=None,  # complete_config: the dataset's `relations` (rel2id.json order)
    visual_encoder=None,
    fusion=dict(type='TextOnlyFusion'),
    head=dict(type='RelationClassificationHead', dropout=0.1))
