"""Twitter-2015 / Twitter-2017 multimodal NER in CoNLL format with ``IMGID:`` lines.

A file is a sequence of tweets separated by blank lines; each tweet starts with
``IMGID:<id>`` (its image is ``<id>.jpg``) followed by one ``token<TAB>tag`` line
per token.
"""
import os.path as osp
from collections import Counter
from typing import List, Optional, Sequence

from mmengine.dataset import BaseDataset
from mmengine.logging import MMLogger

from pmu.registry import DATASETS
from pmu.utils import find_data_root
from .image_check import mark_images
from .truncation import count_truncated_entities


class DataFormatError(ValueError):
    """A data file that cannot be read as documented; names file and line."""


def bio_tags(entity_types: Sequence[str]) -> List[str]:
    """``['O', 'B-PER', 'I-PER', ...]`` in the order of ``entity_types``."""
    tags = ['O']
    for t in entity_types:
        tags += [f'B-{t}', f'I-{t}']
    return tags


def read_conll(path: str):
    """Yield ``(img_id, tokens, tags, first_line_no)`` per tweet.

    Raises :class:`DataFormatError` naming the file and line for a token line
    without a tab, a sentence with no tokens, or an empty file.
    """
    img_id, tokens, tags, start = None, [], [], None

    def flush():
        if img_id is not None and not tokens:
            raise DataFormatError(
                f'{path}:{start}: sentence IMGID:{img_id} has no tokens')
        return img_id, tokens, tags, start

    n_sentences = 0
    with open(path, encoding='utf-8') as f:
        for line_no, raw in enumerate(f, 1):
            line = raw.rstrip('\r\n')
            if not line.strip():
                if img_id is not None or tokens:
                    yield flush()
                    n_sentences += 1
                img_id, tokens, tags, start = None, [], [], None
                continue
            if line.startswith('IMGID:'):
                if img_id is not None or tokens:
                    yield flush()
                    n_sentences += 1
                img_id, tokens, tags, start = line[6:].strip(), [], [], line_no
                continue
            if '\t' not in line:
                raise DataFormatError(
                    f'{path}:{line_no}: expected "token<TAB>tag", got {line!r}')
            token, tag = line.rsplit('\t', 1)
            if start is None:
                start = line_no
            if not token:
                raise DataFormatError(f'{path}:{line_no}: empty token')
            tokens.append(token)
            tags.append((tag.strip(), line_no))
    if img_id is not None or tokens:
        yield flush()
        n_sentences += 1
    if n_sentences == 0:
        raise DataFormatError(f'{path}: no sentences (empty file?)')


@DATASETS.register_module()
class TwitterNERDataset(BaseDataset):
    """Multimodal NER tweets.

    Args:
        ann_file: CoNLL file, relative to ``data_root``.
        entity_types: the entity types the model predicts, e.g.
            ``('PER', 'LOC', 'ORG', 'OTHER')``. ``None`` takes them from the file
            (sorted); give them in config so that train and val agree.
        orphan_i: what to do with an ``I-X`` tag that does not follow ``B-X`` or
            ``I-X``: ``'repair'`` (to ``B-X``, counted and logged; default),
            ``'keep'`` or ``'error'``.
        data_root: ``None`` uses :func:`pmu.utils.find_data_root`.
        data_prefix: ``dict(img_path=...)``, the image folder.
        img_suffix: appended to the ``IMGID`` to form the image file name.
    """

    def __init__(self,
                 ann_file: str,
                 entity_types: Optional[Sequence[str]] = None,
                 orphan_i: str = 'repair',
                 data_root: Optional[str] = None,
                 data_prefix: dict = dict(img_path=''),
                 img_suffix: str = '.jpg',
                 **kwargs):
        if orphan_i not in ('repair', 'keep', 'error'):
            raise ValueError(f"orphan_i must be 'repair', 'keep' or 'error', got {orphan_i!r}")
        self.entity_types = tuple(entity_types) if entity_types else None
        self.orphan_i = orphan_i
        self.img_suffix = img_suffix
        super().__init__(
            ann_file=ann_file,
            data_root=find_data_root(data_root),
            data_prefix=data_prefix,
            **kwargs)

    def load_data_list(self) -> List[dict]:
        logger = MMLogger.get_current_instance()
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(
                f'{self.ann_file} does not exist (data_root={self.data_root!r}; '
                'set PMU_DATA_ROOT or data_root in the config)')
        sentences = list(read_conll(self.ann_file))
        found = sorted({tag[2:] for _, _, tags, _ in sentences
                        for tag, _ in tags if tag[:2] in ('B-', 'I-')})
        types = self.entity_types or tuple(found)
        known = set(bio_tags(types))
        img_dir = self.data_prefix.get('img_path', '')
        repaired = 0
        data_list = []
        for idx, (img_id, tokens, tags, _) in enumerate(sentences):
            clean = []
            for i, (tag, line_no) in enumerate(tags):
                if tag not in known:
                    raise DataFormatError(
                        f'{self.ann_file}:{line_no}: tag {tag!r} is not one of the '
                        f'configured entity types {list(types)} (BIO tags: '
                        f'{sorted(known)}); add the type to entity_types in the config')
                prev = clean[-1] if clean else 'O'
                if tag.startswith('I-') and prev[2:] != tag[2:]:
                    if self.orphan_i == 'error':
                        raise DataFormatError(
                            f'{self.ann_file}:{line_no}: {tag} does not continue an '
                            f'entity (previous tag {prev})')
                    if self.orphan_i == 'repair':
                        tag = 'B-' + tag[2:]
                        repaired += 1
                clean.append(tag)
            data_list.append(
                dict(
                    sample_idx=idx,
                    img_id=img_id,
                    img_path=osp.join(img_dir, img_id + self.img_suffix)
                    if img_id else None,
                    words=tokens,
                    gt_tags=clean))
        self._metainfo.update(entity_types=types, tags=bio_tags(types))
        name = osp.relpath(self.ann_file)
        logger.info(f'{name}: {len(data_list)} sentences, entity types {list(types)}')
        if self.orphan_i == 'repair':
            logger.info(f'{name}: repaired {repaired} orphan I- tags to B- '
                        "(orphan_i='repair')")
        mark_images(data_list, logger, name)
        n_sent, n_trunc, n_ents = count_truncated_entities(data_list, self.pipeline)
        if n_sent:
            logger.warning(
                f'{name}: {n_sent} sentences exceed the tokenizer max_length; '
                f'{n_trunc} of {n_ents} gold entities lose words to truncation '
                '(those words are predicted O and still scored)')
        return data_list
