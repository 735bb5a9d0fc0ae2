# Text-only MNER baseline (BERT-CRF style): no visual encoder, so complete_config drops
# LoadImage from the pipelines. Layout: README.md in this folder.
_base_ = './encoders.py'
model = dict(
    type='MultimodalNER',
    tags=None,  # complete_config: the dataset's `tags`
    visual_encoder=None,
    fusion=dict(type='TextOnlyFusion'),
    head=dict(type='CRFTaggingHead', dropout=0.1))
