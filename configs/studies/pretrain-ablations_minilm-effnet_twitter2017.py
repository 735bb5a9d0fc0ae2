# PROMU's pre-training ablations, measured where they matter: Twitter-2017 validation F1 of the
# lite PROMU model fine-tuned from each pre-trained student (3 seeds), beside the same model from
# the plain encoders. Every ablation is a config of configs/pretrain/ (one objective left out,
# hard labels, the label temperature, the prompt templates, the alignment loss, the CIR source,
# uniform ITM negatives, labels made online on the student's view, ITC from the lower layers); the before steps train
# the teacher once and one student per ablation.
# Needs the COCO-mini pseudo-label cache (docs/pretraining.md, step 1).
#   python tools/study.py configs/studies/pretrain-ablations_minilm-effnet_twitter2017.py --workers 2
metric = 'ner/f1'
reference = 'full'
seeds = [0, 1, 2]
_student = 'configs/pretrain/promu_minilm-effnet_coco-mini'
_teacher = {'custom_hooks.1.teacher_checkpoint': '{work_dir}/teacher'}
_ablations = ('', '_no-itc', '_no-itm', '_no-coe', '_no-cir', '_hard-labels', '_tau0.01', '_tau0.05',
              '_tau-teacher', '_templates-clip', '_kl', '_cir-visual-mean', '_no-hard-negatives', '_online-labels',
              '_itc-lower')
# the ITC split of the official code needs a teacher trained with it
before = [dict(name='teacher', config='configs/pretrain/teacher_minilm-effnet_coco-mini.py'),
          dict(name='teacher_itc-lower', config='configs/pretrain/teacher_minilm-effnet_coco-mini_itc-lower.py')] + [
    dict(name='student' + a, config=f'{_student}{a}.py',
         cfg_options={'custom_hooks.1.teacher_checkpoint': '{work_dir}/teacher_itc-lower'} if a == '_itc-lower'
         else _teacher) for a in _ablations]
rows = [dict(name='scratch', config='configs/mner/promu_minilm-effnet_twitter2017.py')] + [
    dict(name=a[1:] if a else 'full', config='configs/mner/promu_minilm-effnet_twitter2017_from-promu.py',
         cfg_options={'model.pretrained.checkpoint': '{checkpoint:student' + a + '}'}) for a in _ablations]
