"""Kept for imports of ``pmu.apis.inferencer``; the inferencers live in :mod:`pmu.apis.inferencers`."""
from .inferencers import MNERInferencer, MREInferencer, PMUInferencer, PostTokenizer, tokenize_post

__all__ = ['MNERInferencer', 'MREInferencer', 'PMUInferencer', 'PostTokenizer', 'tokenize_post']
