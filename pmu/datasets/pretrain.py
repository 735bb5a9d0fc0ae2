"""Image–caption pairs of a pseudo-label cache (``tools/prepare_pretrain.py``) for pre-training."""
import os.path as osp
from typing import Dict, List, Optional

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import MMLogger

from pmu.registry import DATASETS
from pmu.structures import PairRecordError, read_pair_records
from pmu.utils.paths import find_data_root
from .twitter import DataFormatError


class PairCacheError(DataFormatError, PairRecordError):
    """A bad line of ``pairs.jsonl`` (truncated, not JSON, not UTF-8, a key missing); names ``file:line``."""


@DATASETS.register_module()
class PretrainPairsDataset(BaseDataset):
    """The pairs of ``<cache_dir>/pairs.jsonl``, one ``pmu.structures.PairRecord`` a line
    (see docs/pseudo_labels.md).

    Each sample: ``img_path``, ``caption`` (and ``words``, its whitespace split,
    for ``TokenizeWords``), ``match`` (mismatched pairs are kept: ITM uses them
    as negatives), ``gt_boxes`` ``[K, 4]`` (the top ``num_objects`` detections in
    original pixels, best first), ``gt_boxes_valid`` and ``gt_labels`` (detector
    class names).

    Args:
        cache_dir: the preparation work dir.
        image_filter: keep only pairs whose image path contains this string
            (e.g. ``'/train2017/'``), so one cache serves train and val.
        image_list: keep only pairs whose image's file name is listed in this
            file, one name a line (Flickr8k's ``Flickr_8k.testImages.txt``):
            the split of corpora whose images share one folder. A relative path
            that does not exist as given is looked up under the data root
            (``pmu.utils.find_data_root``).
        num_objects: objects kept per pair (padded with invalid boxes).
        max_images: keep the pairs of the first ``max_images`` selected images only,
            in ``image_list``'s order when there is one, else in the cache's: the
            data-scale knob (Flickr8k's 600 first train photos are its 3,000 pairs).
        img_root: relative image paths of the cache are relative to the
            directory the preparation ran in; give that directory here when it
            is not the current one.
    """

    def __init__(self, cache_dir: str, image_filter: Optional[str] = None, num_objects: int = 1,
                 img_root: Optional[str] = None, image_list: Optional[str] = None,
                 max_images: Optional[int] = None, **kwargs):
        if max_images is not None and max_images < 1:
            raise ValueError(f'max_images must be >= 1 (or None: all images), got {max_images}')
        self.cache_dir = cache_dir
        self.image_filter = image_filter
        self.image_list = image_list
        self.num_objects = num_objects
        self.max_images = max_images
        self.img_root = img_root
        super().__init__(ann_file=osp.join(cache_dir, 'pairs.jsonl'), data_root='', **kwargs)

    def _image_path(self, path: str) -> str:
        if osp.isabs(path):
            return path
        return osp.abspath(osp.join(self.img_root, path) if self.img_root else path)

    def _listed_images(self) -> Optional[Dict[str, int]]:
        """The image names of ``image_list``, each with its position in the file."""
        if not self.image_list:
            return None
        path = self.image_list
        if not osp.isabs(path) and not osp.exists(path):
            path = osp.join(find_data_root(), path)
        if not osp.exists(path):
            raise FileNotFoundError(f'image_list {self.image_list} not found (tried {path} too)')
        with open(path, encoding='utf-8') as f:
            names: Dict[str, int] = {}
            for line in f:
                if line.strip():
                    names.setdefault(line.strip(), len(names))
        if not names:
            raise ValueError(f'image_list {path}: no image names')
        return names

    def _selection(self) -> str:
        parts = [f'image path contains {self.image_filter!r}'] if self.image_filter else []
        parts += [f'image listed in {self.image_list}'] if self.image_list else []
        parts += [f'the first {self.max_images} images'] if self.max_images else []
        return f' ({", ".join(parts)})' if parts else ''

    def load_data_list(self) -> List[dict]:
        if not osp.exists(self.ann_file):
            raise FileNotFoundError(
                f'{self.ann_file} not found: run tools/prepare_pretrain.py first '
                f'(see docs/pretraining.md) or point cache_dir at its work dir')
        listed = self._listed_images()
        data = []
        try:
            records = list(read_pair_records(self.ann_file))
        except PairRecordError as e:  # the message starts with file:line and names the key
            raise PairCacheError(f'{e}; rerun tools/prepare_pretrain.py with --resume to rewrite the cache') from e
        for r in records:
            if self.image_filter and self.image_filter not in r.image:
                continue
            if listed is not None and osp.basename(r.image) not in listed:
                continue
            k = self.num_objects
            objects = r.objects[:k]
            boxes = np.zeros((k, 4), np.float32)
            valid = np.zeros(k, bool)
            for i, o in enumerate(objects):
                boxes[i], valid[i] = o.box, True
            data.append(dict(
                pair_id=r.id, img_path=self._image_path(r.image), ori_size=(r.width, r.height),
                caption=r.caption, words=r.caption.split() or ['.'], match=r.match,
                gt_boxes=boxes, gt_boxes_valid=valid,
                gt_labels=[o.label for o in objects] + [''] * (k - len(objects))))
        if self.max_images:
            data = self._first_images(data, listed)
        n_match = sum(d['match'] for d in data)
        MMLogger.get_current_instance().info(
            f'{type(self).__name__}: {len(data)} pairs from {self.ann_file}{self._selection()}: '
            f'{n_match} matched, {len(data) - n_match} mismatched, '
            f'{len({d["img_path"] for d in data})} images, '
            f'{sum(d["gt_boxes_valid"].any() for d in data)} with an object')
        if not data:
            raise ValueError(f'{self.ann_file}: no pairs left (image_filter={self.image_filter!r}, '
                             f'image_list={self.image_list!r})')
        return data

    def _first_images(self, data: List[dict], listed: Optional[Dict[str, int]]) -> List[dict]:
        """The pairs of the first ``max_images`` images (image_list's order, else the cache's)."""
        order: Dict[str, int] = {}
        for d in data:
            order.setdefault(d['img_path'], len(order))
        if listed is not None:
            order = {p: listed[osp.basename(p)] for p in order}
        kept = set(sorted(order, key=order.get)[:self.max_images])
        if len(order) < self.max_images:
            MMLogger.get_current_instance().warning(
                f'{type(self).__name__}: max_images={self.max_images}, but the selection has only '
                f'{len(order)} images: all kept')
        return [d for d in data if d['img_path'] in kept]

    def unique_images(self) -> List[dict]:
        """One entry per image (first pair's boxes), in order of first appearance."""
        seen = {}
        for i in range(len(self)):
            d = self.get_data_info(i)
            if d['img_path'] not in seen:
                seen[d['img_path']] = dict(img_path=d['img_path'], gt_boxes=d['gt_boxes'],
                                           gt_boxes_valid=d['gt_boxes_valid'], gt_labels=d['gt_labels'])
        return list(seen.values())
