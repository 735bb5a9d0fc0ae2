# What a caption of the real image adds to text-only MRE: MiniLM-L6 on MNRE validation, without a
# caption and with each of five captioners' captions as the second segment (seed 0; the best
# captioner then gets seeds 1 and 2: --cfg-options is not needed, add them to its row's `seeds`).
# Results and commands: docs/captions.md.
#   python tools/study.py configs/studies/captions_minilm_mnre.py --workers 2
metric = 're/f1'
metrics = ['re/precision', 're/recall']
reference = 'textonly'
seeds = [0]
rows = [dict(name='textonly', config='configs/mre/textonly_minilm_mnre.py')] + [
    dict(name=f'textonly_cap-{c}', config=f'configs/mre/textonly_minilm_mnre_cap-{c}.py')
    # a short caption (BLIP) and a paragraph (CogVLM) first: a study cut short has both kinds
    for c in ('blip', 'cogvlm', 'instructblip', 'minicpm', 'llavanext')]
