# What the Twitter MNER datasets share; twitter2015.py, twitter2015-hvpnet.py and
# twitter2017.py set the files and the entity types (the tag set: O, then B-/I- of each).
# data_root=None: $PMU_DATA_ROOT, else ./data, else ../shared/data.
# Model selection uses the validation split (test_dataloader points at it too);
# point test_dataloader at test.txt to report test figures.
# A tool loading the config gives the tokenising step the model's tokenizer and `max_length`,
# and drops LoadImage for a text-only model: `python tools/misc/print_config.py CONFIG` shows it.
_base_ = './loaders.py'
dataset_type = 'TwitterNERDataset'
data_root = None
image_size = (224, 224)  # what both encoder pairs take
max_length = 128  # sub-words per post, special tokens included

train_pipeline = [
    dict(type='LoadImage', size=image_size),
    dict(type='TokenizeWords', tokenizer=None, max_length=None),
    dict(type='PackMultimodalInputs'),
]
test_pipeline = train_pipeline
train_dataloader = dict(
    batch_size=16,
    dataset=dict(type=dataset_type, data_root=data_root, ann_file=None, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32,
    dataset=dict(type=dataset_type, data_root=data_root, ann_file=None, pipeline=test_pipeline, test_mode=True))
test_dataloader = val_dataloader
val_evaluator = dict(type='SeqevalNERMetric')
test_evaluator = val_evaluator
