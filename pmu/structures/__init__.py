from .bio import entity_spans
from .data_sample import PMUDataSample
from .pretrain_record import EntityRecord, ObjectRecord, PairRecord, PairRecordError, read_pair_records
from .vocabulary import read_vocabulary

__all__ = [
    'EntityRecord', 'ObjectRecord', 'PMUDataSample', 'PairRecord', 'PairRecordError', 'entity_spans',
    'read_pair_records', 'read_vocabulary'
]
