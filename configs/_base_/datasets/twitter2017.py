# Twitter-2017 (Lu et al., ACL 2018), as released with UMT. Images: <data_root>/twitter2017_images.
_base_ = './twitter_ner.py'
entity_types = ('PER', 'LOC', 'ORG', 'MISC')
__data = dict(data_prefix=dict(img_path='twitter2017_images'), entity_types=entity_types)
train_dataloader = dict(dataset=dict(ann_file='twitter2017/train.txt', **__data))
val_dataloader = dict(dataset=dict(ann_file='twitter2017/valid.txt', **__data))
test_dataloader = val_dataloader
