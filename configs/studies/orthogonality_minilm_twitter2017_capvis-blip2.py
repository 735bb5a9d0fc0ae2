# The orthogonality study with each tweet's BLIP-2 caption on the visual side of every fusion
# (CaptionVisualTokens in place of the image encoder, which has no tweet image offline): PROMU's
# single-stream fusion, HVPNeT's prefixes and UMT's interaction now read the caption each their own way,
# from the encoders' own weights and from the PROMU student; the reference is the text-only model with
# the caption as its second text segment. Results and commands: docs/captions.md.
#   python tools/study.py configs/studies/orthogonality_minilm_twitter2017_capvis-blip2.py --workers 2
_base_ = './orthogonality_minilm-effnet_twitter2017.py'
reference = 'textonly_cap-blip2'
rows = [dict(name='textonly_cap-blip2', config='configs/mner/textonly_minilm_twitter2017_cap-blip2.py')] + [
    dict(name=fusion + variant,
         config=f'configs/orthogonality/{fusion}_minilm_twitter2017{variant}_capvis-blip2.py',
         cfg_options={'model.pretrained.checkpoint': '{checkpoint:student}'} if variant else {})
    for variant in ('', '_from-promu') for fusion in ('promu', 'hvpnet', 'umt')]
