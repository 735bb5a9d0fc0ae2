# UMT's interaction on Twitter-2015 (UMT's labels) with each tweet's BLIP-2 caption on its visual side, in place
# of the image (CaptionVisualTokens; docs/captions.md, "The caption on the visual side"). No visual encoder.
# The Twitter-2017 twin: umt_minilm_twitter2017_capvis-blip2.py.
_base_ = '../mner/promu_minilm-effnet_twitter2015_cap-blip2.py'
model = dict(fusion=dict(_delete_=True, type='UMTFusion'), visual_encoder=None,
             caption_encoder=dict(type='CaptionVisualTokens'))
