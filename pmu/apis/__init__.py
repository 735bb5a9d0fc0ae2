from .inferencer import MNERInferencer, tokenize_post
from .config import (init_cpu_distributed, prepare_test_config, prepare_train_config,
                     resolve_dist_backend)

__all__ = ['MNERInferencer', 'tokenize_post', 'init_cpu_distributed', 'prepare_test_config', 'prepare_train_config', 'resolve_dist_backend']
