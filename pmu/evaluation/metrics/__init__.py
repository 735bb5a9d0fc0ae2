from .ner_metric import SeqevalNERMetric
from .re_metric import RelationMetric
from .retrieval import RetrievalMetric, retrieval_recall

__all__ = ['RelationMetric', 'RetrievalMetric', 'SeqevalNERMetric', 'retrieval_recall']
