# PROMU's single-stream fusion with each tweet's BLIP-2 caption on its visual side, in place of the image
# (CaptionVisualTokens; docs/captions.md, "The caption on the visual side"). No visual encoder.
_base_ = './promu_minilm-effnet_twitter2017_cap-blip2.py'
model = dict(visual_encoder=None, caption_encoder=dict(type='CaptionVisualTokens'))
