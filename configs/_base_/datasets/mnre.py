# MNRE v2 (Zheng et al., ICME 2021): 12247 / 1624 / 1614 instances, 23 relations incl. 'None'.
# Files under <data_root>/mnre: mnre_{train,val,test}.txt, rel2id.json, img_org/{train,val,test}/.
# data_root=None: $PMU_DATA_ROOT, else ./data, else ../shared/data.
# Model selection uses the validation split (test_dataloader points at it too, as
# the test split is not distributed with pmu's data); point test_dataloader at
# mnre/mnre_test.txt and mnre/img_org/test to report test figures.
dataset_type = 'MNREDataset'
data_root = None
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

train_dataloader = dict(
    batch_size=32,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='mnre/mnre_train.txt',
        rel2id_file='mnre/rel2id.json',
        data_prefix=dict(img_path='mnre/img_org/train')))
val_dataloader = dict(
    batch_size=64,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='mnre/mnre_val.txt',
        rel2id_file='mnre/rel2id.json',
        data_prefix=dict(img_path='mnre/img_org/val'),
        test_mode=True))
test_dataloader = val_dataloader
val_evaluator = dict(type='RelationMetric')
test_evaluator = val_evaluator
