from .config_path import get_config_path  # noqa: F401
from .dist import get_rank_world, init_cpu_process_group
from .hf import build_tokenizer, load_config, load_pretrained_model
from .image import DEFAULT_MAX_PIXELS, ImageLoadResult, check_image, load_image
from .paths import find_data_root, resolve_packaged_path
from .setup_env import register_all_modules

__all__ = [
    'build_tokenizer', 'find_data_root', 'load_config', 'load_pretrained_model',
    'register_all_modules', 'resolve_packaged_path',
    'DEFAULT_MAX_PIXELS', 'ImageLoadResult', 'check_image', 'get_rank_world', 'init_cpu_process_group', 'load_image'
]
