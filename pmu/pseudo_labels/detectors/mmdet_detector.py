"""MMDetection 3.x models as pseudo-label detectors (optional extra)."""
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np
from mmengine.registry import DefaultScope

from pmu.registry import DETECTORS
from ..structures import Detections
from .base import BaseObjectDetector, ImageInput

MMDET_INSTALL_HINT = (
    'MMDetDetector needs MMDetection 3.x and mmcv with its compiled ops: pip install -e ".[mmdet]" '
    '(mmcv 2.0.0rc4..2.1.x must be built for your torch: on CPU machines of this project use '
    '--find-links ../shared/wheels; with CUDA: pip install -U openmim && mim install "mmcv>=2.0.0rc4,<2.2.0"; '
    'see docs/pseudo_labels.md)')


def _import_mmdet_apis():
    # Imported here, not at module level, so that pmu installs and runs without the extra.
    try:
        from mmdet.apis import inference_detector, init_detector
    except ImportError as e:
        raise ImportError(f'{MMDET_INSTALL_HINT}. The import failed with: {e}') from e
    return init_detector, inference_detector


def mmdet_config_path(name: str) -> str:
    """A config path as given, or one of the configs bundled with mmdet, e.g.
    ``'mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py'``."""
    if not name.startswith('mmdet::'):
        return name
    import mmdet
    path = osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs', name[len('mmdet::'):])
    if not osp.exists(path):
        raise FileNotFoundError(f"'{name}' is not among mmdet's bundled configs ({path})")
    return path


@DETECTORS.register_module()
class MMDetDetector(BaseObjectDetector):
    """An MMDetection model built with ``mmdet.apis.init_detector``.

    Args:
        config: an MMDetection config file, or ``'mmdet::<path>'`` for one bundled
            with mmdet.
        checkpoint: its weights (None: randomly initialised, for tests only).
        device: ``'cpu'``, ``'cuda:0'``, ...
        cfg_options: overrides merged into the MMDetection config.
        class_names: defaults to the checkpoint's ``dataset_meta['classes']``.
    """

    def __init__(self, config: str, checkpoint: Optional[str] = None, device: str = 'cpu',
                 cfg_options: Optional[dict] = None, class_names: Optional[Sequence[str]] = None,
                 **kwargs):
        super().__init__(**kwargs)
        init_detector, self._inference_detector = _import_mmdet_apis()
        self.config, self.checkpoint = mmdet_config_path(config), checkpoint
        with DefaultScope.overwrite_default_scope('mmdet'):
            self.model = init_detector(self.config, checkpoint, device=device, cfg_options=cfg_options)
        meta_classes = (self.model.dataset_meta or {}).get('classes')
        self.class_names = list(class_names or meta_classes or [])
        if not self.class_names:
            raise ValueError(f'{self.config}: no class names in the checkpoint; give class_names')

    @property
    def name(self) -> str:
        return f'MMDetDetector({self.config}, {self.checkpoint})'

    def _detect(self, images: Sequence[ImageInput]) -> List[Detections]:
        # mmdet's pipelines take ndarray images in mmcv's BGR order.
        arrays = [np.ascontiguousarray(np.asarray(img.image)[..., ::-1]) for img in images]
        results = []
        # mmdet's APIs set MMEngine's global default scope to 'mmdet'; scoping it here
        # keeps pmu's own registry builds (datasets, entity finders) working afterwards.
        with DefaultScope.overwrite_default_scope('mmdet'):
            samples = self._inference_detector(self.model, arrays)
        for sample in samples:
            pred = sample.pred_instances
            results.append(Detections(pred.bboxes.cpu().numpy(), pred.scores.cpu().numpy(),
                                      pred.labels.cpu().numpy(), self.class_names))
        return results
