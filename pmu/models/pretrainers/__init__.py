from .alignment import box_grid_weights, image_id, soft_pseudo_labels
from .promu import PromptTeacher, PromuPretrainer

__all__ = ['PromptTeacher', 'PromuPretrainer', 'box_grid_weights', 'image_id', 'soft_pseudo_labels']
