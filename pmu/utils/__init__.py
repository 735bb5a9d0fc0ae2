from .paths import find_data_root, resolve_packaged_path

__all__ = ['find_data_root', 'resolve_packaged_path']
