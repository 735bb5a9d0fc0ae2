"""Pseudo-label preparation for PROMU pre-training: object detectors, candidate
entity finders, vocabularies, prompt templates and the runner that ties them.

Every module that registers into DETECTORS, ENTITY_FINDERS or PROMPTS is
imported here, because those registries import ``pmu.pseudo_labels`` to find them.
"""
from .cache import SkippedPair, read_pairs
from .detectors import AnnotationDetector, BaseObjectDetector, ImageInput, MMDetDetector, OnnxDetector
from .entity_finder import SpacyEntityFinder
from .paths import find_model_file, load_class_names
from .prepare import BadInputError, PreparationRun, prepare
from .prompts import (BareWordTemplates, ClipEntityTemplates, PromuEntityTemplates, PromuRelationTemplates,
                      TemplateSet, encode_vocabulary)
from .structures import Detections
from .vocabulary import (build_entity_vocabulary, build_relation_vocabulary, merge_relation_vocabulary,
                         read_counted_vocabulary, read_vocabulary, write_counted_vocabulary, write_vocabulary)

__all__ = [
    'AnnotationDetector', 'BadInputError', 'BareWordTemplates', 'BaseObjectDetector', 'ClipEntityTemplates',
    'Detections', 'ImageInput', 'MMDetDetector', 'OnnxDetector', 'PreparationRun', 'PromuEntityTemplates',
    'PromuRelationTemplates', 'SkippedPair', 'SpacyEntityFinder', 'TemplateSet', 'build_entity_vocabulary',
    'build_relation_vocabulary', 'encode_vocabulary', 'find_model_file', 'load_class_names',
    'merge_relation_vocabulary', 'prepare', 'read_counted_vocabulary', 'read_pairs', 'read_vocabulary',
    'write_counted_vocabulary', 'write_vocabulary'
]
