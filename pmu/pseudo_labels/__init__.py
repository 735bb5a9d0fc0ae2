"""Pseudo-label preparation for PROMU pre-training: detectors, entity
extraction, vocabularies, prompt templates and the runner that ties them.

Every module that registers into DETECTORS, ENTITY_EXTRACTORS or PROMPTS is
imported here, because those registries import ``pmu.pseudo_labels`` to find them.
"""
from .cache import SkippedPair, read_pairs
from .detectors import AnnotationDetector, BaseDetector, ImageInput, MMDetDetector, OnnxDetector
from .entity_extractor import SpacyEntityExtractor
from .paths import find_model_file, load_class_names
from .prepare import BadInputError, PreparationRun, prepare
from .prompts import (BareWordTemplates, ClipEntityTemplates, PromuEntityTemplates, PromuRelationTemplates,
                      TemplateSet, encode_vocabulary)
from .structures import Detections
from .vocabulary import (build_entity_vocabulary, build_relation_vocabulary, read_vocabulary,
                         write_vocabulary)

__all__ = [
    'AnnotationDetector', 'BadInputError', 'BareWordTemplates', 'BaseDetector', 'ClipEntityTemplates',
    'Detections', 'ImageInput', 'MMDetDetector', 'OnnxDetector', 'PreparationRun', 'PromuEntityTemplates',
    'PromuRelationTemplates', 'SkippedPair', 'SpacyEntityExtractor', 'TemplateSet', 'build_entity_vocabulary',
    'build_relation_vocabulary', 'encode_vocabulary', 'find_model_file', 'load_class_names', 'prepare',
    'read_pairs', 'read_vocabulary', 'write_vocabulary'
]
