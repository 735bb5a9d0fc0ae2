# As captions_minilm_twitter2017.py, on Twitter-2015 (UMT's labels) validation, with one more row: the BLIP-2
# caption on UMT's visual side (the setting that gained on Twitter-2017, docs/captions.md).
#   python tools/study.py configs/studies/captions_minilm_twitter2015.py --workers 2
#   python tools/study.py configs/studies/captions_minilm_twitter2015.py --seeds 0   # every row once first
_base_ = './captions_minilm_twitter2017.py'
rows = [dict(name='textonly', config='configs/mner/textonly_minilm_twitter2015.py')] + [
    dict(name=f'textonly_cap-{c}', config=f'configs/mner/textonly_minilm_twitter2015_cap-{c}.py')
    for c in ('blip2', 'catr')] + [
    dict(name='umt_capvis-blip2', config='configs/orthogonality/umt_minilm_twitter2015_capvis-blip2.py')]
