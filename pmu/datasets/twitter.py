"""Twitter-2015 / Twitter-2017 multimodal NER in CoNLL format with ``IMGID:`` lines.

A file is a sequence of tweets separated by blank lines; each tweet starts with
``IMGID:<id>`` (its image is ``<id>.jpg``) followed by one ``token<TAB>tag`` line
per token.
"""
import os.path as osp
from collections import defaultdict
from typing import List, Optional, Sequence

from mmengine.dataset import BaseDataset
from mmengine.logging import MMLogger

from pmu.registry import DATASETS
from pmu.utils import find_data_root
from pmu.utils.paths import path_inside
from .captions import attach_captions
from .image_check import mark_images
from .text_files import DataFormatError, utf8_lines
from .truncation import count_caption_segments, count_truncated_entities, log_caption_segments, log_truncation


def bio_tags(entity_types: Sequence[str]) -> List[str]:
    """``['O', 'B-PER', 'I-PER', ...]`` in the order of ``entity_types``."""
    tags = ['O']
    for t in entity_types:
        tags += [f'B-{t}', f'I-{t}']
    return tags


def read_conll(path: str, tag_column: Optional[int] = None):
    """Yield ``(img_id, tokens, tags, first_line_no)`` per tweet.

    A token line is ``token<TAB>tag``; with ``tag_column`` (an index into the
    tab-separated columns, e.g. ``2`` or ``-1`` for ``token<TAB>POS<TAB>tag``) it
    may have more columns, the token being the first.

    Raises :class:`DataFormatError` naming the file and line for a line that is
    not UTF-8, a token line without a tab or with a column count other than
    two (without ``tag_column``), a sentence with no tokens, or an empty file.
    """
    img_id, tokens, tags, start = None, [], [], None

    def flush():
        if img_id is not None and not tokens:
            raise DataFormatError(
                f'{path}:{start}: sentence IMGID:{img_id} has no tokens')
        return img_id, tokens, tags, start

    n_sentences = 0
    for line_no, raw in utf8_lines(path):
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
        columns = line.split('\t')
        if tag_column is None:
            if len(columns) != 2:
                raise DataFormatError(
                    f'{path}:{line_no}: expected 2 tab-separated columns "token<TAB>tag", got '
                    f'{len(columns)}: {line!r}; if the file has more columns (e.g. token<TAB>POS<TAB>tag), '
                    'set tag_column in the dataset config to the index of the tag column')
            token, tag = columns
        else:
            if not -len(columns) <= tag_column < len(columns) or tag_column in (0, -len(columns)):
                raise DataFormatError(
                    f'{path}:{line_no}: tag_column={tag_column} is not a column after the token in this line of '
                    f'{len(columns)} columns: {line!r}')
            token, tag = columns[0], columns[tag_column]
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
        tag_column: for files with more than two tab-separated columns, the
            index of the tag column (e.g. ``-1`` for ``token<TAB>POS<TAB>tag``);
            ``None`` (default) requires exactly ``token<TAB>tag``.
        allow_outside_images: let an ``IMGID`` name a file outside the image
            folder (``../other/x``, an absolute path, a link pointing out).
            Default ``False``: such an ``IMGID`` stops loading with an error
            naming file and line, so no file elsewhere (another split's image,
            a system file) is read.
        captions: a caption source, e.g. ``dict(type='CaptionFile',
            path='captions/twitter2017_blip2.txt')`` (:mod:`pmu.datasets.captions`):
            each tweet's ``caption`` is the one of ``<IMGID><img_suffix>``, which
            ``TokenizeWords`` encodes as a second segment. ``None`` (default): no captions.
    """

    def __init__(self,
                 ann_file: str,
                 entity_types: Optional[Sequence[str]] = None,
                 orphan_i: str = 'repair',
                 data_root: Optional[str] = None,
                 data_prefix: dict = dict(img_path=''),
                 img_suffix: str = '.jpg',
                 tag_column: Optional[int] = None,
                 allow_outside_images: bool = False,
                 captions: Optional[dict] = None,
                 **kwargs):
        if orphan_i not in ('repair', 'keep', 'error'):
            raise ValueError(f"orphan_i must be 'repair', 'keep' or 'error', got {orphan_i!r}")
        self.entity_types = tuple(entity_types) if entity_types else None
        self.orphan_i = orphan_i
        self.img_suffix = img_suffix
        self.tag_column = tag_column
        self.allow_outside_images = allow_outside_images
        self.captions = captions
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
        sentences = list(read_conll(self.ann_file, self.tag_column))
        found = sorted({tag[2:] for _, _, tags, _ in sentences
                        for tag, _ in tags if tag[:2] in ('B-', 'I-')})
        types = self.entity_types or tuple(found)
        known = set(bio_tags(types))
        img_dir = self.data_prefix.get('img_path', '')
        repaired = 0
        data_list = []
        for idx, (img_id, tokens, tags, first_line) in enumerate(sentences):
            clean = []
            for tag, line_no in tags:
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
            img_path = None
            if img_id and '\x00' in img_id:
                raise DataFormatError(f'{self.ann_file}:{first_line}: IMGID:{img_id!r} holds a NUL byte, which no '
                                      'file name can')
            if img_id:
                img_path, inside = path_inside(img_dir, img_id + self.img_suffix)
                if not inside and not self.allow_outside_images:
                    raise DataFormatError(
                        f'{self.ann_file}:{first_line}: IMGID:{img_id} points outside the image folder '
                        f'{img_dir!r} (to {osp.realpath(img_path)}); image names must stay inside it '
                        '(set allow_outside_images=True in the dataset config to allow this)')
            data_list.append(
                dict(
                    sample_idx=idx,
                    img_id=img_id,
                    img_path=img_path,
                    words=tokens,
                    gt_tags=clean))
        self._log_duplicates(sentences, logger)
        self._metainfo.update(entity_types=types, tags=bio_tags(types))
        name = osp.relpath(self.ann_file)
        logger.info(f'{name}: {len(data_list)} sentences, entity types {list(types)}')
        if self.orphan_i == 'repair':
            logger.info(f'{name}: repaired {repaired} orphan I- tags to B- '
                        "(orphan_i='repair')")
        mark_images(data_list, logger, name)
        attach_captions(data_list, self.captions, self.data_root, logger, name,
                        lambda info: info['img_id'] and info['img_id'] + self.img_suffix)
        log_truncation(count_truncated_entities(data_list, self.pipeline), logger, name)
        if self.captions is not None:
            log_caption_segments(count_caption_segments(data_list, self.pipeline), logger, name)
        return data_list

    def _log_duplicates(self, sentences, logger) -> None:
        """Policy for repeated tweets: kept, counted and logged with their lines (the real Twitter-2015/2017
        files have none). A post repeated word for word under the same IMGID weighs twice in training and
        in the metric; one IMGID on different posts gives them the same image (and caption)."""
        lines = defaultdict(list)
        for img_id, tokens, _, first_line in sentences:
            lines[img_id, tuple(tokens)].append(first_line)
        by_id = defaultdict(list)
        for (img_id, _), at in lines.items():
            if img_id:
                by_id[img_id].append(at[0])
        name = osp.relpath(self.ann_file)
        posts = [at for at in lines.values() if len(at) > 1]
        if posts:
            logger.warning(
                f'{name}: {sum(len(at) - 1 for at in posts)} repeated posts (same IMGID and words; kept, each '
                'copy is trained on and scored): ' + '; '.join(
                    f'line {at[0]} again at line(s) {", ".join(map(str, at[1:]))}' for at in posts[:3])
                + ('; ...' if len(posts) > 3 else ''))
        shared = {i: at for i, at in by_id.items() if len(at) > 1}
        if shared:
            logger.warning(
                f'{name}: {sum(len(at) - 1 for at in shared.values())} posts reuse the IMGID of another post with '
                'other words (kept; they share the image and its caption): ' + '; '.join(
                    f'IMGID:{i} at lines {", ".join(map(str, at))}' for i, at in list(shared.items())[:3])
                + ('; ...' if len(shared) > 3 else ''))
