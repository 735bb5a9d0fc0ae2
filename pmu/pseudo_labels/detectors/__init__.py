from .annotation_detector import AnnotationDetector
from .base import BaseDetector, ImageInput
from .mmdet_detector import MMDetDetector
from .onnx_detector import OnnxDetector

__all__ = ['AnnotationDetector', 'BaseDetector', 'ImageInput', 'MMDetDetector', 'OnnxDetector']
