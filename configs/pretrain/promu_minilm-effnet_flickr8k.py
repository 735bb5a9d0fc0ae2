# The PROMU student on Flickr8k: MiniLM-L6 + EfficientNet-lite0 + single-stream fusion pre-trained
# with ITC + ITM + COE + CIR on the 30,455 train pairs against the soft pseudo-labels of the teacher
# (teacher_minilm-effnet_flickr8k.py, trained first), made online from each step's augmented view;
# retrieval on the 1k test photos (5,000 captions).
# The vocabularies are the cache's: the ones mined from the train captions (1000 entities, 1000
# relation phrases; configs/prepare/prepare_onnx-centernet_spacy_flickr8k.py).
_base_ = [
    '../_base_/models/pretrain_promu.py', '../_base_/datasets/flickr8k_pretrain.py',
    '../_base_/schedules/adamw_pretrain_3e.py', '../_base_/pretrain_runtime.py'
]
# soft labels made online: the frozen teacher labels, in each step, the crop the student sees
# (offline labels of the whole image: label_source='offline')
model = dict(label_source='online')
default_hooks = dict(logger=dict(interval=50))
custom_hooks = [
    *_base_.custom_hooks,
    dict(type='SoftLabelHook', teacher_config='configs/pretrain/teacher_minilm-effnet_flickr8k.py',
         teacher_checkpoint='work_dirs/teacher_minilm-effnet_flickr8k',  # its work dir: last checkpoint
         image_size=_base_.image_size),
]
