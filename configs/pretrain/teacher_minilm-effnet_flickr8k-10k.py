# The Flickr8k teacher on the first 2000 photos of the train split (10,000 pairs): a point of the
# data-scale curve (docs/pretraining.md, "Data scale"). Retrieval on the same 1k test photos.
_base_ = './teacher_minilm-effnet_flickr8k.py'
train_dataloader = dict(dataset=dict(max_images=2000))
