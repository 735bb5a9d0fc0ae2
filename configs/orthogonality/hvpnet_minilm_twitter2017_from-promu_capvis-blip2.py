# hvpnet_minilm_twitter2017_capvis-blip2.py with the text encoder initialised from the PROMU student;
# the fusion, which PROMU did not train, starts fresh, and the student's visual encoder has no place here.
_base_ = './hvpnet_minilm-effnet_twitter2017_from-promu_cap-blip2.py'
model = dict(visual_encoder=None, caption_encoder=dict(type='CaptionVisualTokens'),
             pretrained=dict(key_map={'_delete_': True, 'text_encoder.': 'text_encoder.'}))
