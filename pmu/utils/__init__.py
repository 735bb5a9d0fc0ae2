from .hf import build_tokenizer, load_config, load_pretrained_model
from .paths import find_data_root, resolve_packaged_path
from .setup_env import register_all_modules

__all__ = [
    'build_tokenizer', 'find_data_root', 'load_config', 'load_pretrained_model',
    'register_all_modules', 'resolve_packaged_path'
]
