from .ner_metric import SeqevalNERMetric

__all__ = ['SeqevalNERMetric']
from .re_metric import RelationMetric  # noqa: E402,F401
from .retrieval import RetrievalMetric, retrieval_recall  # noqa: E402,F401
