# Text-only MRE baseline: entity markers, [<s>; <o>] states, MLP; no visual encoder (the
# pipelines' LoadImage is dropped on loading). Layout: README.md in this folder.
_base_ = './encoders.py'
model = dict(
    type='MultimodalRE',
    relations=None,  # on loading: the dataset's `relations` (rel2id.json order)
    visual_encoder=None,
    fusion=dict(type='TextOnlyFusion'),
    head=dict(type='RelationClassificationHead', dropout=0.1))
