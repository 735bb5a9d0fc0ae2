# The orthogonality experiment on MNRE validation (see orthogonality_minilm-effnet_twitter2017.py),
# one seed. It reuses the PROMU student that the Twitter-2017 study pre-trains: run that study
# first (or only its before steps: --only promu_from-promu).
#   python tools/study.py configs/studies/orthogonality_minilm-effnet_mnre.py --workers 2
metric = 're/f1'
metrics = ['re/precision', 're/recall', 're/accuracy']
reference = 'promu'
seeds = [0]
_student = {'model.pretrained.checkpoint': 'work_dirs/studies/orthogonality_minilm-effnet_twitter2017/student'}
rows = [
    dict(name='textonly', config='configs/mre/textonly_minilm_mnre.py'),
    dict(name='promu', config='configs/orthogonality/promu_minilm-effnet_mnre.py'),
    dict(name='promu_from-promu', config='configs/orthogonality/promu_minilm-effnet_mnre_from-promu.py',
         cfg_options=_student),
    dict(name='hvpnet', config='configs/orthogonality/hvpnet_minilm-effnet_mnre.py'),
    dict(name='hvpnet_from-promu', config='configs/orthogonality/hvpnet_minilm-effnet_mnre_from-promu.py',
         cfg_options=_student),
    dict(name='umt', config='configs/orthogonality/umt_minilm-effnet_mnre.py'),
    dict(name='umt_from-promu', config='configs/orthogonality/umt_minilm-effnet_mnre_from-promu.py',
         cfg_options=_student),
]
