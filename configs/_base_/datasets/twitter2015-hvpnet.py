# Twitter-2015 relabelled by HVPNeT/MKGformer (differs from UMT's in a few hundred sentences). Images: <data_root>/twitter2015_images.
_base_ = './twitter_ner.py'
entity_types = ('PER', 'LOC', 'ORG', 'OTHER')
tags = ['O'] + [f'{p}-{t}' for t in entity_types for p in 'BI']
_data = dict(data_prefix=dict(img_path='twitter2015_images'), entity_types=entity_types)
train_dataloader = dict(dataset=dict(ann_file='twitter2015-hvpnet/train.txt', **_data))
val_dataloader = dict(dataset=dict(ann_file='twitter2015-hvpnet/valid.txt', **_data))
test_dataloader = val_dataloader
