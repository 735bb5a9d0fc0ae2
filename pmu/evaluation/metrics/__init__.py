from .ner_metric import SeqevalNERMetric

__all__ = ['SeqevalNERMetric']
