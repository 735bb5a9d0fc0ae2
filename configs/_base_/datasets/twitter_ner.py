# What the Twitter MNER datasets share; twitter2015.py, twitter2015-hvpnet.py and
# twitter2017.py set the files and entity types.
# data_root=None: $PMU_DATA_ROOT, else ./data, else ../shared/data.
# Model selection uses the validation split (test_dataloader points at it too);
# point test_dataloader at test.txt to report test figures.
dataset_type = 'TwitterNERDataset'
data_root = None

train_dataloader = dict(
    batch_size=16,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file=None))
val_dataloader = dict(
    batch_size=32,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file=None,
        test_mode=True))
test_dataloader = val_dataloader
val_evaluator = dict(type='SeqevalNERMetric')
test_evaluator = val_evaluator
