from .curves import CurvePlotHook

__all__ = ['CurvePlotHook']
from .soft_labels import SoftLabelHook, build_teacher, entity_agreement, teacher_similarities  # noqa: E402,F401
