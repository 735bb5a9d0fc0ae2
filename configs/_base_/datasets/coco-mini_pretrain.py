# Image-caption pairs of a pseudo-label cache (tools/prepare_pretrain.py) over COCO-mini:
# train2017 pairs for training, val2017 pairs for retrieval evaluation.
# cache_dir is the preparation's default work dir; point the three `cache_dir` keys
# (train/val datasets, and model.entity_vocab/relation_vocab in the student) elsewhere
# with --cfg-options when it lives somewhere else (docs/pretraining.md).
cache_dir = 'work_dirs/prepare_onnx-centernet_spacy_coco-mini'
dataset_type = 'PretrainPairsDataset'
num_objects = 1  # top detections per pair that get a COE label

train_dataloader = dict(
    batch_size=32,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type=dataset_type, cache_dir=cache_dir, image_filter='/train2017/', num_objects=num_objects))
val_dataloader = dict(
    batch_size=64,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type=dataset_type, cache_dir=cache_dir, image_filter='/val2017/', num_objects=num_objects,
                 test_mode=True))
test_dataloader = val_dataloader
val_evaluator = dict(type='RetrievalMetric')
test_evaluator = val_evaluator
