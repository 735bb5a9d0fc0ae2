# Image-caption pairs of a pseudo-label cache (tools/prepare_pretrain.py) over COCO-mini:
# train2017 pairs for training, val2017 pairs for retrieval evaluation.
# cache_dir is the preparation's default work dir and the one key to change when the cache
# lives elsewhere (--cfg-options cache_dir=DIR): a tool loading the config gives it to the
# datasets and the student's entity_vocab and relation_vocab, and the tokenising steps the
# model's tokenizer and `max_length`: `python tools/misc/print_config.py CONFIG` shows them.
# Augmentations of DESIGN.md (RandomResizedCrop scale 0.2-1, horizontal flip,
# RandAugment(2, 7), photometric ops only); boxes follow every op that moves pixels.
cache_dir = 'work_dirs/prepare_onnx-centernet_spacy_coco-mini'
_base_ = './loaders.py'
dataset_type = 'PretrainPairsDataset'
num_objects = 1  # top detections per pair that get a COE label
image_size = (224, 224)  # what both encoder pairs take
max_length = 32  # sub-words per caption (official code: 20; COCO captions need ~16)

__pack = dict(
    type='PackMultimodalInputs',
    meta_keys=('sample_idx', 'pair_id', 'img_path', 'has_image', 'match', 'caption', 'img_shape', 'flip',
               'crop_coverage'),
    data_keys=('gt_boxes', 'gt_boxes_valid', 'gt_labels'))
train_pipeline = [
    dict(type='LoadImage', size=None),
    dict(type='RandomResizedCropWithBoxes', size=image_size, scale=(0.2, 1.0)),
    dict(type='RandomFlipWithBoxes', prob=0.5),
    dict(type='RandAugmentPhotometric', num_ops=2, magnitude=7),
    dict(type='TokenizeWords', tokenizer=None, max_length=None),
    __pack,
]
test_pipeline = [
    dict(type='LoadImage', size=None),
    dict(type='ResizeWithBoxes', size=image_size),
    dict(type='TokenizeWords', tokenizer=None, max_length=None),
    __pack,
]
__data = dict(type=dataset_type, cache_dir=None, num_objects=num_objects)  # cache_dir: see above
train_dataloader = dict(batch_size=32, dataset=dict(image_filter='/train2017/', pipeline=train_pipeline, **__data))
val_dataloader = dict(
    batch_size=64, dataset=dict(image_filter='/val2017/', pipeline=test_pipeline, test_mode=True, **__data))
test_dataloader = val_dataloader
val_evaluator = dict(type='RetrievalMetric')
test_evaluator = val_evaluator
