"""Boxes given by the data: COCO ``instances_*.json`` or Pascal VOC XML."""
import glob
import json
import os.path as osp
import xml.etree.ElementTree as ET
from collections import defaultdict
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

from pmu.registry import DETECTORS
from pmu.utils.paths import find_data_root
from ..structures import Detections
from .base import BaseObjectDetector, ImageInput


def resolve_data_file(path: str, data_root: Optional[str] = None) -> str:
    """An existing path as is, otherwise relative to the data root (see ``find_data_root``)."""
    if osp.isabs(path) or osp.exists(path):
        return path
    return osp.join(find_data_root(data_root), path)


@DETECTORS.register_module()
class AnnotationDetector(BaseObjectDetector):
    """Look up each image's annotated boxes by file name (score 1.0).

    For corpora that come with boxes, and as the reference when measuring a
    detector. Images without annotations get no objects.

    Args:
        ann_files: COCO instance files (``instances_*.json``).
        voc_dirs: folders of Pascal VOC ``.xml`` files (matched by the
            ``<filename>`` element, or the XML file's stem).
        include_crowd: keep COCO ``iscrowd`` boxes (regions of many objects).
        data_root: relative paths are looked up under it (default: ``find_data_root()``).
    """
    def __init__(self, ann_files: Union[str, Sequence[str]] = (), voc_dirs: Union[str, Sequence[str]] = (),
                 include_crowd: bool = False, data_root: Optional[str] = None, score_thr: float = 0.0,
                 max_per_image: int = -1, **kwargs):
        super().__init__(score_thr=score_thr, max_per_image=max_per_image, **kwargs)
        ann_files = [ann_files] if isinstance(ann_files, str) else list(ann_files)
        voc_dirs = [voc_dirs] if isinstance(voc_dirs, str) else list(voc_dirs)
        if not ann_files and not voc_dirs:
            raise ValueError('AnnotationDetector needs ann_files (COCO) or voc_dirs (Pascal VOC)')
        self.class_names: List[str] = []
        self._class_index: Dict[str, int] = {}
        # file name -> list of (x1, y1, x2, y2, class index)
        self._boxes = defaultdict(list)
        for f in ann_files:
            self._load_coco(resolve_data_file(f, data_root), include_crowd)
        for d in voc_dirs:
            self._load_voc(resolve_data_file(d, data_root))

    def _class(self, name: str) -> int:
        if name not in self._class_index:
            self._class_index[name] = len(self.class_names)
            self.class_names.append(name)
        return self._class_index[name]

    def _load_coco(self, path: str, include_crowd: bool):
        with open(path, encoding='utf-8') as f:
            coco = json.load(f)
        categories = {c['id']: self._class(c['name']) for c in coco['categories']}
        file_names = {img['id']: img['file_name'] for img in coco['images']}
        for ann in coco['annotations']:
            if ann.get('iscrowd', 0) and not include_crowd:
                continue
            x, y, w, h = ann['bbox']
            self._boxes[osp.basename(file_names[ann['image_id']])].append(
                (x, y, x + w, y + h, categories[ann['category_id']]))

    def _load_voc(self, folder: str):
        for xml_path in sorted(glob.glob(osp.join(folder, '*.xml'))):
            root = ET.parse(xml_path).getroot()
            file_name = root.findtext('filename') or osp.splitext(osp.basename(xml_path))[0] + '.jpg'
            for obj in root.iter('object'):
                bb = obj.find('bndbox')
                if bb is None:
                    raise ValueError(f'{xml_path}: <object> without <bndbox>')
                coords = [float(bb.findtext(k)) for k in ('xmin', 'ymin', 'xmax', 'ymax')]
                self._boxes[osp.basename(file_name)].append((*coords, self._class(obj.findtext('name'))))

    def _detect(self, images: Sequence[ImageInput]) -> List[Detections]:
        results = []
        for img in images:
            rows = np.array(self._boxes.get(osp.basename(img.path), []), np.float32).reshape(-1, 5)
            results.append(Detections(rows[:, :4], np.ones(len(rows)), rows[:, 4], self.class_names))
        return results
