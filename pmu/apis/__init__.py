from .inferencers import (MNERInferencer, MREInferencer, PMUInferencer, PostTokenizer,
                          tokenize_post)
from .config import (init_cpu_distributed, prepare_test_config, prepare_train_config,
                     resolve_dist_backend)

__all__ = ['PMUInferencer', 'MNERInferencer', 'MREInferencer', 'PostTokenizer', 'tokenize_post',
           'init_cpu_distributed', 'prepare_test_config', 'prepare_train_config', 'resolve_dist_backend']
