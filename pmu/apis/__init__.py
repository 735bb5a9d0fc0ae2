from .inferencers import (MNERInferencer, MREInferencer, PMUInferencer, PostTokenizer,
                          tokenize_post)
from .config import (init_cpu_distributed, prepare_test_config, prepare_train_config,
                     resolve_dist_backend)
from . import runs  # train() and test(): what tools/train.py and tools/test.py run

__all__ = ['PMUInferencer', 'MNERInferencer', 'MREInferencer', 'PostTokenizer', 'tokenize_post',
           'init_cpu_distributed', 'prepare_test_config', 'prepare_train_config', 'resolve_dist_backend', 'runs']
