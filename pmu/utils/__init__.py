from .hf import build_tokenizer, load_config, load_pretrained_model
from .paths import find_data_root, resolve_packaged_path

__all__ = [
    'build_tokenizer', 'find_data_root', 'load_config', 'load_pretrained_model',
    'resolve_packaged_path'
]
