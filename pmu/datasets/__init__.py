from .caption_pairs import *  # noqa: F401,F403
from .transforms import *  # noqa: F401,F403
from .twitter import DataFormatError, TwitterNERDataset, bio_tags, read_conll

__all__ = ['DataFormatError', 'TwitterNERDataset', 'bio_tags', 'read_conll']
from .mnre import MNREDataset, read_mnre, read_rel2id  # noqa: E402,F401
from .pretrain import PretrainPairsDataset  # noqa: E402,F401
