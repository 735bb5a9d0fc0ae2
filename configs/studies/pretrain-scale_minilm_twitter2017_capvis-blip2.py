# The downstream points of the data-scale curve (docs/pretraining.md, "Data scale"): what the PROMU
# student pre-trained on more pairs gives extraction. PROMU's single-stream fusion reading each tweet's
# BLIP-2 caption on its visual side (the capvis model of docs/captions.md: the one where the fusion
# has something to fuse offline), Twitter-2017 validation, 3 seeds, with the text encoder and the
# fusion from the encoders' own weights and from the student of each scale: 400 COCO-mini pairs,
# 3,000 and 10,000 Flickr8k pairs (the teacher of the same scale labels its student online).
# Needs both pseudo-label caches (docs/pretraining.md). The COCO-mini rows are those of
# orthogonality_minilm_twitter2017_capvis-blip2.py (the same configs and seeds).
#   python tools/study.py configs/studies/pretrain-scale_minilm_twitter2017_capvis-blip2.py --workers 2
metric = 'ner/f1'
metrics = ['ner/precision', 'ner/recall']
reference = 'promu'
seeds = [0, 1, 2]
_flickr8k = [
    item for scale in ('3k', '10k') for item in (
        dict(name=f'teacher_flickr8k-{scale}', config=f'configs/pretrain/teacher_minilm-effnet_flickr8k-{scale}.py'),
        dict(name=f'student_flickr8k-{scale}', config=f'configs/pretrain/promu_minilm-effnet_flickr8k-{scale}.py',
             cfg_options={'custom_hooks.1.teacher_checkpoint': f'{{work_dir}}/teacher_flickr8k-{scale}'}))]
before = [
    dict(name='teacher', config='configs/pretrain/teacher_minilm-effnet_coco-mini.py'),
    dict(name='student', config='configs/pretrain/promu_minilm-effnet_coco-mini.py',
         cfg_options={'custom_hooks.1.teacher_checkpoint': '{work_dir}/teacher'}),
] + _flickr8k
_model = 'configs/orthogonality/promu_minilm_twitter2017'
rows = [dict(name='promu', config=f'{_model}_capvis-blip2.py')] + [
    dict(name=f'promu_from-{step[len("student_"):] if step != "student" else "coco-mini"}',
         config=f'{_model}_from-promu_capvis-blip2.py',
         cfg_options={'model.pretrained.checkpoint': f'{{checkpoint:{step}}}'})
    for step in ('student', 'student_flickr8k-3k', 'student_flickr8k-10k')]
