from .annotation_detector import AnnotationDetector
from .base import BaseObjectDetector, ImageInput
from .mmdet_detector import MMDetDetector
from .onnx_detector import OnnxDetector

__all__ = ['AnnotationDetector', 'BaseObjectDetector', 'ImageInput', 'MMDetDetector', 'OnnxDetector']
