from .config import (init_cpu_distributed, prepare_test_config, prepare_train_config,
                     resolve_dist_backend)

__all__ = ['init_cpu_distributed', 'prepare_test_config', 'prepare_train_config', 'resolve_dist_backend']
