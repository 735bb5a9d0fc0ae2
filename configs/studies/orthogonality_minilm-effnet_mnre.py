# The orthogonality experiment on MNRE validation (see orthogonality_minilm-effnet_twitter2017.py),
# one seed. It reuses the PROMU student that the Twitter-2017 study pre-trains: run that study
# first (or only its before steps: --only promu_from-promu).
#   python tools/study.py configs/studies/orthogonality_minilm-effnet_mnre.py --workers 2
metric = 're/f1'
metrics = ['re/precision', 're/recall', 're/accuracy']
reference = 'promu'
seeds = [0]
_student = {'model.pretrained.checkpoint': 'work_dirs/studies/orthogonality_minilm-effnet_twitter2017/student'}
# text-only for reference, then each fusion from the plain encoders and from the PROMU student
rows = [dict(name='textonly', config='configs/mre/textonly_minilm_mnre.py')] + [
    dict(name=fusion + variant, config=f'configs/orthogonality/{fusion}_minilm-effnet_mnre{variant}.py',
         cfg_options=_student if variant else {})
    for fusion in ('promu', 'hvpnet', 'umt') for variant in ('', '_from-promu')]
