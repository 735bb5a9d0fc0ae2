# The orthogonality experiment of PROMU (Hu et al., ACM MM 2023): does its alignment pre-training
# help fusion designs other than its own? Lite encoders (MiniLM-L6 + EfficientNet-lite0) on
# Twitter-2017 validation, 3 seeds: each fusion (PROMU's single-stream, HVPNeT-style prefixes,
# UMT-style interaction) from the plain encoders and from the PROMU student, plus the text-only
# model for reference. The before steps pre-train the teacher and the student on COCO-mini
# (run tools/prepare_pretrain.py configs/prepare/prepare_onnx-centernet_spacy_coco-mini.py
# first). Results and commands: docs/orthogonality.md.
#   python tools/study.py configs/studies/orthogonality_minilm-effnet_twitter2017.py --workers 2
metric = 'ner/f1'
metrics = ['ner/precision', 'ner/recall']
reference = 'promu'
seeds = [0, 1, 2]
before = [
    dict(name='teacher', config='configs/pretrain/teacher_minilm-effnet_coco-mini.py'),
    dict(name='student', config='configs/pretrain/promu_minilm-effnet_coco-mini.py',
         cfg_options={'custom_hooks.1.teacher_checkpoint': '{work_dir}/teacher'}),
]
_student = {'model.pretrained.checkpoint': '{checkpoint:student}'}
# text-only for reference, then each fusion from the plain encoders and from the PROMU student
rows = [dict(name='textonly', config='configs/mner/textonly_minilm_twitter2017.py')] + [
    dict(name=fusion + variant, config=f'configs/orthogonality/{fusion}_minilm-effnet_twitter2017{variant}.py',
         cfg_options=_student if variant else {})
    for fusion in ('promu', 'hvpnet', 'umt') for variant in ('', '_from-promu')]
