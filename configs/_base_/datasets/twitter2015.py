# Twitter-2015 (Zhang et al., AAAI 2018), as released with UMT. Images: <data_root>/twitter2015_images.
_base_ = './twitter_ner.py'
entity_types = ('PER', 'LOC', 'ORG', 'OTHER')
__data = dict(data_prefix=dict(img_path='twitter2015_images'), entity_types=entity_types)
train_dataloader = dict(dataset=dict(ann_file='twitter2015/train.txt', **__data))
val_dataloader = dict(dataset=dict(ann_file='twitter2015/valid.txt', **__data))
test_dataloader = val_dataloader
