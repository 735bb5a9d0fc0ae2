from .alignment import DEFAULT_PSEUDO_LABELS, box_grid_weights, crop_boxes, image_id, soft_pseudo_labels
from .promu import PromptTeacher, PromuPretrainer

__all__ = ['DEFAULT_PSEUDO_LABELS', 'PromptTeacher', 'PromuPretrainer', 'box_grid_weights', 'crop_boxes', 'image_id',
           'soft_pseudo_labels']
