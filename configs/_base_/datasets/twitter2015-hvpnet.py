# Twitter-2015 relabelled by HVPNeT/MKGformer (differs from UMT's in a few hundred
# sentences); entity types and images as twitter2015.py.
_base_ = './twitter2015.py'
train_dataloader = dict(dataset=dict(ann_file='twitter2015-hvpnet/train.txt'))
val_dataloader = dict(dataset=dict(ann_file='twitter2015-hvpnet/valid.txt'))
test_dataloader = val_dataloader
