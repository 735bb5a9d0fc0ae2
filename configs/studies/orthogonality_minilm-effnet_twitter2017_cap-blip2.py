# The orthogonality study (orthogonality_minilm-effnet_twitter2017.py) with each tweet's BLIP-2
# caption as the second text segment of every row. Results and commands: docs/captions.md.
#   python tools/study.py configs/studies/orthogonality_minilm-effnet_twitter2017_cap-blip2.py --workers 2
_base_ = './orthogonality_minilm-effnet_twitter2017.py'
rows = [dict(name='textonly', config='configs/mner/textonly_minilm_twitter2017_cap-blip2.py')] + [
    dict(name=fusion + variant,
         config=f'configs/orthogonality/{fusion}_minilm-effnet_twitter2017{variant}_cap-blip2.py',
         cfg_options={'model.pretrained.checkpoint': '{checkpoint:student}'} if variant else {})
    for fusion in ('promu', 'hvpnet', 'umt') for variant in ('', '_from-promu')]
