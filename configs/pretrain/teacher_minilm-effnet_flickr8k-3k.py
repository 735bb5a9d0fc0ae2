# The Flickr8k teacher on the first 600 photos of the train split (3,000 pairs): a point of the
# data-scale curve (docs/pretraining.md, "Data scale"). Retrieval on the same 1k test photos.
_base_ = './teacher_minilm-effnet_flickr8k.py'
train_dataloader = dict(dataset=dict(max_images=600))
