# MNER with PROMU's cross-modal fusion over the lite encoders, CRF head.
_base_ = './lite_encoders.py'
train_pipeline = [
    dict(type='LoadImage', size=_base_.image_size),
    dict(type='TokenizeWords', tokenizer=_base_.text_encoder_name, max_length=_base_.max_length),
    dict(type='PackMultimodalInputs'),
]
test_pipeline = train_pipeline
model = dict(
    type='MultimodalNER',
    tags=None,  # set from the dataset config
    data_preprocessor=_base_.data_preprocessor,
    text_encoder=_base_.text_encoder,
    visual_encoder=_base_.visual_encoder,
    fusion=dict(type='PromuFusion', num_layers=2, num_heads=_base_.fusion_heads),
    head=dict(type='CRFTaggingHead', dropout=0.1))
