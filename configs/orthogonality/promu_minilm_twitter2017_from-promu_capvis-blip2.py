# promu_minilm_twitter2017_capvis-blip2.py with the text encoder and the fusion initialised from the PROMU
# student (its visual projection, sized for EfficientNet's channels, starts fresh: "shape mismatch" in the
# log); the student's visual encoder has no place here.
_base_ = './promu_minilm-effnet_twitter2017_from-promu_cap-blip2.py'
model = dict(visual_encoder=None, caption_encoder=dict(type='CaptionVisualTokens'),
             pretrained=dict(key_map={'_delete_': True, 'text_encoder.': 'text_encoder.', 'fusion.': 'fusion.'}))
