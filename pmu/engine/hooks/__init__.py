from .curves import CurvePlotHook
from .soft_labels import SoftLabelHook, build_teacher, entity_agreement, teacher_similarities

__all__ = [
    'CurvePlotHook', 'SoftLabelHook', 'build_teacher', 'entity_agreement', 'teacher_similarities'
]
