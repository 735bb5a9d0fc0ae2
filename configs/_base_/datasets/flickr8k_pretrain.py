# Image-caption pairs of the Flickr8k pseudo-label cache
# (configs/prepare/prepare_onnx-centernet_spacy_flickr8k.py): the train split's 30,455 pairs for
# pre-training, the standard 1k test images (5,000 captions) for retrieval. Flickr8k's images share one
# folder, so each split is selected by its split file (`image_list`, relative to the data root).
# Everything else (augmentations, max_length, the cache_dir key) is coco-mini_pretrain.py's.
_base_ = './coco-mini_pretrain.py'
cache_dir = 'work_dirs/prepare_onnx-centernet_spacy_flickr8k'
train_dataloader = dict(dataset=dict(image_filter=None, image_list='flickr8k/Flickr_8k.trainImages.txt'))
val_dataloader = dict(dataset=dict(image_filter=None, image_list='flickr8k/Flickr_8k.testImages.txt'))
test_dataloader = val_dataloader
