from .config import prepare_test_config, prepare_train_config, resolve_dist_backend

__all__ = ['prepare_test_config', 'prepare_train_config', 'resolve_dist_backend']
