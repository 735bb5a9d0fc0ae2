"""Image–caption pairs for PROMU's pseudo-label pre-training.

Every corpus yields dicts ``{'pair_id', 'img_path', 'caption', 'match'}``;
``match`` is False for deliberately mismatched pairs (kept as negatives for
image–text matching). ``pair_id`` is unique and stable across runs, so the
preparation step can resume by it.

Bad-input policy for annotation files (``on_bad_line``): ``'skip'`` (default)
skips a broken entry (not JSON, not UTF-8, a field missing or of the wrong
type, an id that does not resolve), counts it in ``self.skipped`` by reason and
keeps the first examples with ``file:line`` in ``self.skipped_examples``;
``'raise'`` stops at the first one with a :class:`CaptionFileError` naming
``file:line``. A file that cannot be read at all always raises. Empty captions
and unreadable images are judged later, per pair, by the preparation step.
"""
import json
import os.path as osp
from collections import Counter
from typing import List, Optional

from mmengine.dataset import BaseDataset

from pmu.registry import DATASETS
from pmu.utils.paths import find_data_root

__all__ = ['CaptionFileError', 'CocoCaptionPairs', 'JsonlCaptionPairs', 'NewsClippingsPairs']

MAX_SKIP_EXAMPLES = 20


class CaptionFileError(ValueError):
    """A caption/annotation file entry that cannot be used; the message names file and line."""


class _CaptionPairs(BaseDataset):
    """Shared parts: data root resolution and the bad-entry policy."""

    def __init__(self, ann_file: str, data_root: Optional[str] = None, data_prefix: Optional[dict] = None,
                 on_bad_line: str = 'skip', **kwargs):
        if on_bad_line not in ('skip', 'raise'):
            raise ValueError(f"on_bad_line must be 'skip' or 'raise', not {on_bad_line!r}")
        self.on_bad_line = on_bad_line
        self.skipped = Counter()
        self.skipped_examples: List[str] = []
        # Without an image prefix, JSONL and NewsCLIPpings resolve images next to their files.
        self.img_prefix_given = bool(data_prefix and data_prefix.get('img'))
        super().__init__(ann_file=ann_file, data_root=find_data_root(data_root),
                         data_prefix=data_prefix or dict(img=''), **kwargs)

    def _image_root(self, default: str) -> str:
        return self.data_prefix['img'] if self.img_prefix_given else default

    def _bad(self, where: str, reason: str, detail: str):
        message = f'{where}: {reason}: {detail}'
        if self.on_bad_line == 'raise':
            raise CaptionFileError(message + " (set on_bad_line='skip' to skip and count such entries)")
        self.skipped[reason] += 1
        if len(self.skipped_examples) < MAX_SKIP_EXAMPLES:
            self.skipped_examples.append(message)

    def _read_json(self, path: str):
        try:
            with open(path, encoding='utf-8') as f:
                return json.load(f)
        except FileNotFoundError:
            raise FileNotFoundError(f'{type(self).__name__}: annotation file {path} not found') from None
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise CaptionFileError(f'{path}: not a UTF-8 JSON file: {e}') from e


@DATASETS.register_module()
class CocoCaptionPairs(_CaptionPairs):
    """COCO captions: one pair per caption (five an image), all matched.

    Args:
        ann_file: ``captions_*.json``, relative to ``data_root``.
        data_prefix: ``dict(img=<image folder>)``, relative to ``data_root``.
        data_root: default ``pmu.utils.find_data_root()``.

    ``self.instances_file`` is the ``instances_*.json`` beside the captions when
    present (for :class:`~pmu.pseudo_labels.AnnotationDetector`), else None.
    """

    def load_data_list(self) -> List[dict]:
        coco = self._read_json(self.ann_file)
        instances = osp.join(osp.dirname(self.ann_file), osp.basename(self.ann_file).replace('captions_', 'instances_'))
        self.instances_file = instances if instances != self.ann_file and osp.exists(instances) else None
        images = {img['id']: img for img in coco['images']}
        by_image = {}
        for i, ann in enumerate(coco['annotations']):
            where = f'{self.ann_file}: annotations[{i}]'
            if ann.get('image_id') not in images:
                self._bad(where, 'unknown_image_id', f"image_id {ann.get('image_id')!r} not in images")
                continue
            if not isinstance(ann.get('caption'), str) or 'id' not in ann:
                self._bad(where, 'missing_field', "needs 'id' and a string 'caption'")
                continue
            by_image.setdefault(ann['image_id'], []).append(ann)
        pairs = []
        # Pairs of one image stay together so the detector sees each image once.
        for image_id, anns in by_image.items():
            img = images[image_id]
            for ann in anns:
                pairs.append(dict(pair_id=f"coco:{ann['id']}", img_id=image_id,
                                  img_path=osp.join(self.data_prefix['img'], img['file_name']),
                                  caption=ann['caption'], match=True))
        return pairs


@DATASETS.register_module()
class JsonlCaptionPairs(_CaptionPairs):
    """One JSON object a line: ``{"image": path, "caption": str, "match": bool?, "id": str?}``.

    ``image`` is relative to ``data_prefix['img']`` (default: the JSONL file's
    folder); ``match`` defaults to true; ``id`` defaults to ``<file name>:<line>``.
    """

    def load_data_list(self) -> List[dict]:
        image_root = self._image_root(osp.dirname(self.ann_file))
        name = osp.basename(self.ann_file)
        pairs = []
        try:
            f = open(self.ann_file, 'rb')
        except FileNotFoundError:
            raise FileNotFoundError(f'JsonlCaptionPairs: {self.ann_file} not found') from None
        with f:
            # Bytes, decoded line by line: one non-UTF-8 line must not sink the file.
            for lineno, raw in enumerate(f, 1):
                where = f'{self.ann_file}:{lineno}'
                if not raw.strip():
                    continue
                try:
                    record = json.loads(raw.decode('utf-8'))
                except UnicodeDecodeError as e:
                    self._bad(where, 'not_utf8', str(e))
                    continue
                except json.JSONDecodeError as e:
                    self._bad(where, 'bad_json', str(e))
                    continue
                if not isinstance(record, dict) or not isinstance(record.get('image'), str) \
                        or not isinstance(record.get('caption'), str):
                    self._bad(where, 'missing_field', "needs string fields 'image' and 'caption'")
                    continue
                match = record.get('match', True)
                if not isinstance(match, bool):
                    self._bad(where, 'missing_field', f"'match' must be true or false, not {match!r}")
                    continue
                pairs.append(dict(pair_id=str(record.get('id', f'{name}:{lineno}')),
                                  img_path=osp.join(image_root, record['image']),
                                  caption=record['caption'], match=match))
        return pairs


@DATASETS.register_module()
class NewsClippingsPairs(_CaptionPairs):
    """NewsCLIPpings (Luo et al., EMNLP 2021) over VisualNews.

    ``ann_file`` is a NewsCLIPpings split, ``{"annotations": [{"id": caption's
    VisualNews id, "image_id": image's VisualNews id, "falsified": bool, ...}]}``;
    ``visual_news_file`` is VisualNews' ``data.json`` (a list of ``{"id",
    "caption", "image_path", ...}``) whose ``image_path`` values are relative to
    ``data_prefix['img']`` (default: data.json's folder). Falsified pairs are
    kept with ``match=False``.
    """

    def __init__(self, ann_file: str, visual_news_file: str, **kwargs):
        self.visual_news_file = visual_news_file
        super().__init__(ann_file=ann_file, **kwargs)

    def load_data_list(self) -> List[dict]:
        vn_file = self.visual_news_file
        if not osp.isabs(vn_file):
            vn_file = osp.join(self.data_root, vn_file)
        image_root = self._image_root(osp.dirname(vn_file))
        visual_news = {item['id']: item for item in self._read_json(vn_file)}
        pairs = []
        for i, ann in enumerate(self._read_json(self.ann_file)['annotations']):
            where = f'{self.ann_file}: annotations[{i}]'
            if not {'id', 'image_id', 'falsified'} <= set(ann):
                self._bad(where, 'missing_field', "needs 'id', 'image_id' and 'falsified'")
                continue
            caption_item, image_item = visual_news.get(ann['id']), visual_news.get(ann['image_id'])
            if caption_item is None or image_item is None:
                missing = ann['id'] if caption_item is None else ann['image_id']
                self._bad(where, 'unknown_visual_news_id', f'id {missing!r} not in {vn_file}')
                continue
            pairs.append(dict(pair_id=f"newsclippings:{ann['id']}-{ann['image_id']}", img_id=ann['image_id'],
                              img_path=osp.normpath(osp.join(image_root, image_item['image_path'])),
                              caption=caption_item['caption'], match=not ann['falsified']))
        return pairs
