# Pre-training inputs for the lite encoders: MiniLM-L6 + EfficientNet-lite0 (CPU, offline).
# Augmentations of DESIGN.md (RandomResizedCrop scale 0.2-1, horizontal flip,
# RandAugment(2, 7), photometric ops only); boxes follow every op that moves pixels.
# Captions are cut at max_length sub-words (official code: 20; COCO captions need ~16).
_base_ = './lite_encoders.py'
max_length = 32
pack = dict(
    type='PackMultimodalInputs',
    meta_keys=('sample_idx', 'pair_id', 'img_path', 'has_image', 'match', 'caption', 'img_shape', 'flip'),
    data_keys=('gt_boxes', 'gt_boxes_valid', 'gt_labels'))
train_pipeline = [
    dict(type='LoadImage', size=None),
    dict(type='RandomResizedCropWithBoxes', size=_base_.image_size, scale=(0.2, 1.0)),
    dict(type='RandomFlipWithBoxes', prob=0.5),
    dict(type='RandAugmentPhotometric', num_ops=2, magnitude=7),
    dict(type='TokenizeWords', tokenizer=_base_.text_encoder_name, max_length=max_length),
    pack,
]
test_pipeline = [
    dict(type='LoadImage', size=None),
    dict(type='ResizeWithBoxes', size=_base_.image_size),
    dict(type='TokenizeWords', tokenizer=_base_.text_encoder_name, max_length=max_length),
    pack,
]
