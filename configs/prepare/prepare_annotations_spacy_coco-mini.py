# COCO-mini with its own instance boxes instead of a detector (one line differs:
# `detector`): the reference for measuring detectors.
_base_ = './prepare_onnx-centernet_spacy_coco-mini.py'

detector = dict(
    _delete_=True,
    type='AnnotationDetector',
    ann_files=['coco-mini/annotations/instances_train2017.json', 'coco-mini/annotations/instances_val2017.json'])
