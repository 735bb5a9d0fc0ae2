# MNRE v2 (Zheng et al., ICME 2021): 12247 / 1624 / 1614 instances, 23 relations incl. 'None'.
# Files under <data_root>/mnre: mnre_{train,val,test}.txt, rel2id.json, img_org/{train,val,test}/.
# data_root=None: $PMU_DATA_ROOT, else ./data, else ../shared/data.
# Model selection uses the validation split (test_dataloader points at it too, as
# the test split is not distributed with pmu's data); point test_dataloader at
# mnre/mnre_test.txt and mnre/img_org/test to report test figures.
# A tool loading the config gives the tokenising steps the model's tokenizer and `max_length`,
# the text encoder the entity markers, and drops LoadImage for a text-only model:
# `python tools/misc/print_config.py CONFIG` shows it.
_base_ = './loaders.py'
dataset_type = 'MNREDataset'
data_root = None
image_size = (224, 224)  # what both encoder pairs take
max_length = 128  # sub-words per post, special tokens included
# rel2id.json's order: the model scores relations in this order and the metric
# checks that it matches the dataset's rel2id.json.
relations = [
    'None', '/per/per/parent', '/per/per/siblings', '/per/per/couple', '/per/per/neighbor',
    '/per/per/peer', '/per/per/charges', '/per/per/alumi', '/per/per/alternate_names',
    '/per/org/member_of', '/per/loc/place_of_residence', '/per/loc/place_of_birth',
    '/org/org/alternate_names', '/org/org/subsidiary', '/org/loc/locate_at', '/loc/loc/contain',
    '/per/misc/present_in', '/per/misc/awarded', '/per/misc/race', '/per/misc/religion',
    '/per/misc/nationality', '/misc/misc/part_of', '/misc/loc/held_on'
]

# Head open/close and tail open/close markers: new special tokens of the tokenizer (the embeddings
# are resized by 4). They must be strings the tokenizer does not know: pmu.utils.build_tokenizer
# refuses a special token or vocabulary entry (the former '<s>', '</s>' are MPNet's [CLS] and
# separator). pmu.datasets.transforms.ENTITY_MARKERS is the same tuple.
entity_markers = ('<e1>', '</e1>', '<e2>', '</e2>')
train_pipeline = [
    dict(type='LoadImage', size=image_size),
    # a post longer than max_length is cut to a window around the entities
    dict(type='InsertEntityMarkers', markers=entity_markers, tokenizer=None, max_length=None),
    dict(type='TokenizeWords', extra_special_tokens=entity_markers, tokenizer=None, max_length=None),
    dict(
        type='PackMultimodalInputs',
        meta_keys=('sample_idx', 'img_id', 'img_path', 'has_image', 'tokens', 'words',
                   'word_ids', 'head_marker', 'tail_marker', 'head_name', 'tail_name',
                   'image_caption', 'caption_status', 'num_cropped_words', 'ori_shape')),
]
test_pipeline = train_pipeline

__data = dict(type=dataset_type, data_root=data_root, rel2id_file='mnre/rel2id.json')
train_dataloader = dict(
    batch_size=32,
    dataset=dict(ann_file='mnre/mnre_train.txt', data_prefix=dict(img_path='mnre/img_org/train'),
                 pipeline=train_pipeline, **__data))
val_dataloader = dict(
    batch_size=64,
    dataset=dict(ann_file='mnre/mnre_val.txt', data_prefix=dict(img_path='mnre/img_org/val'),
                 pipeline=test_pipeline, test_mode=True, **__data))
test_dataloader = val_dataloader
val_evaluator = dict(type='RelationMetric')
test_evaluator = val_evaluator
