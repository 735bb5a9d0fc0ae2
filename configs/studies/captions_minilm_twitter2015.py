# As captions_minilm_twitter2017.py, on Twitter-2015 (UMT's labels) validation.
#   python tools/study.py configs/studies/captions_minilm_twitter2015.py --workers 2
_base_ = './captions_minilm_twitter2017.py'
rows = [dict(name='textonly', config='configs/mner/textonly_minilm_twitter2015.py')] + [
    dict(name=f'textonly_cap-{c}', config=f'configs/mner/textonly_minilm_twitter2015_cap-{c}.py')
    for c in ('blip2', 'catr')]
