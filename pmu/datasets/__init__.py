from .caption_pairs import (CaptionFileError, CocoCaptionPairs, Flickr8kCaptionPairs, JsonlCaptionPairs,
                            NewsClippingsPairs)
from .mnre import MNREDataset, read_mnre, read_rel2id
from .pretrain import PretrainPairsDataset
from .transforms import *  # noqa: F401,F403
from .twitter import DataFormatError, TwitterNERDataset, bio_tags, read_conll

__all__ = [
    'CaptionFileError', 'CocoCaptionPairs', 'DataFormatError', 'Flickr8kCaptionPairs', 'JsonlCaptionPairs',
    'MNREDataset', 'NewsClippingsPairs', 'PretrainPairsDataset', 'TwitterNERDataset', 'bio_tags', 'read_conll',
    'read_mnre', 'read_rel2id'
]
