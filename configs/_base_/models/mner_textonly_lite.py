# Text-only MNER baseline (BERT-CRF style) over the lite text encoder.
_base_ = './lite_encoders.py'
train_pipeline = [
    dict(type='TokenizeWords', tokenizer=_base_.text_encoder_name, max_length=_base_.max_length),
    dict(type='PackMultimodalInputs'),
]
test_pipeline = train_pipeline
model = dict(
    type='MultimodalNER',
    tags=None,  # set from the dataset config
    data_preprocessor=_base_.data_preprocessor,
    text_encoder=_base_.text_encoder,
    fusion=dict(type='TextOnlyFusion'),
    head=dict(type='CRFTaggingHead', dropout=0.1))
