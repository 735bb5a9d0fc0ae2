from .transforms import *  # noqa: F401,F403
from .twitter import DataFormatError, TwitterNERDataset, bio_tags, read_conll

__all__ = ['DataFormatError', 'TwitterNERDataset', 'bio_tags', 'read_conll']
