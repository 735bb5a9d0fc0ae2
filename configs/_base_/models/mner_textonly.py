# Text-only MNER baseline (BERT-CRF style): no visual encoder (the pipelines' LoadImage is
# dropped on loading). Layout: README.md in this folder.
_base_ = './encoders.py'
model = dict(
    type='MultimodalNER',
    tags=None,  # on loading: the dataset's tag set
    visual_encoder=None,
    fusion=dict(type='TextOnlyFusion'),
    head=dict(type='CRFTaggingHead', dropout=0.1))
