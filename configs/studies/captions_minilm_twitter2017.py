# What a caption of the real image adds to text-only MNER: MiniLM-L6-CRF on Twitter-2017 validation,
# without a caption, with BLIP-2's and with CATR's caption as the second segment, 3 seeds each.
# Results and commands: docs/captions.md.
#   python tools/study.py configs/studies/captions_minilm_twitter2017.py --workers 2
metric = 'ner/f1'
metrics = ['ner/precision', 'ner/recall']
reference = 'textonly'
seeds = [0, 1, 2]
rows = [dict(name='textonly', config='configs/mner/textonly_minilm_twitter2017.py')] + [
    dict(name=f'textonly_cap-{c}', config=f'configs/mner/textonly_minilm_twitter2017_cap-{c}.py')
    for c in ('blip2', 'catr')]
