# Where the student's soft labels are made, and where ITC reads the caption: the lite PROMU student
# pre-trained on COCO-mini (400 pairs, 3 epochs) with labels made offline on the whole image or
# online on the crop the student sees, and with the caption feature of ITC taken from the whole
# text encoder or from its lower, text-only layers (the official code's split; its teacher is
# trained with the same split). Measured directly, as image-text retrieval: mean R@1 of both
# directions on COCO-mini val (79 photos, 395 captions; the "val" column) and on the Flickr8k 1k
# test photos (5,000 captions; the "test" column, a domain the student never saw).
# Needs both pseudo-label caches (docs/pretraining.md): COCO-mini's to train on, Flickr8k's to test on.
#   python tools/study.py configs/studies/pretrain-labels_minilm-effnet_coco-mini.py
metric = 'retrieval/mean_R@1'
metrics = ['retrieval/t2i_R@1', 'retrieval/i2t_R@1', 'retrieval/t2i_R@10', 'retrieval/i2t_R@10']
reference = 'offline'
seeds = [0, 1, 2]
test_options = {
    'test_dataloader.dataset.cache_dir': 'work_dirs/prepare_onnx-centernet_spacy_flickr8k',
    'test_dataloader.dataset.image_filter': None,
    'test_dataloader.dataset.image_list': 'flickr8k/Flickr_8k.testImages.txt',
}
_student = 'configs/pretrain/promu_minilm-effnet_coco-mini'
_teacher = {'custom_hooks.1.teacher_checkpoint': '{work_dir}/teacher'}
_teacher_lower = {'custom_hooks.1.teacher_checkpoint': '{work_dir}/teacher_itc-lower'}
before = [dict(name='teacher', config='configs/pretrain/teacher_minilm-effnet_coco-mini.py'),
          dict(name='teacher_itc-lower', config='configs/pretrain/teacher_minilm-effnet_coco-mini_itc-lower.py')]
rows = [
    dict(name='offline', config=f'{_student}.py', cfg_options=_teacher),
    dict(name='online', config=f'{_student}_online-labels.py', cfg_options=_teacher),
    dict(name='itc-lower', config=f'{_student}_itc-lower.py', cfg_options=_teacher_lower),
    dict(name='online_itc-lower', config=f'{_student}_itc-lower.py',
         cfg_options={**_teacher_lower, 'model.label_source': 'online'}),
]
