"""Inferencers: trained MNER and MRE models on new posts (``mmengine.infer.BaseInferencer``)."""
from typing import Union

from mmengine.config import Config

from .base import PostInferencer, read_jsonl
from .mner import MNERInferencer, word_windows
from .mre import MREInferencer
from .tokenizer import PRESETS as TOKENIZER_STYLES
from .tokenizer import PostTokenizer

_BY_MODEL = {cls.model_type: cls for cls in (MNERInferencer, MREInferencer)}


class PMUInferencer:
    """The inferencer of a config's task: :class:`MNERInferencer` for ``MultimodalNER``,
    :class:`MREInferencer` for ``MultimodalRE``.

    >>> infer = PMUInferencer(model='configs/mner/promu_minilm-effnet_twitter2017.py',
    ...                       weights='work_dirs/promu_minilm-effnet_twitter2017', device='cpu')
    >>> infer('Kawhi Leonard wins the fan vote')['entities']

    Keyword arguments go to the chosen class (``strict``, ``random_weights``,
    ``grounder`` for MNER, ...).
    """

    def __new__(cls, model: Union[str, Config], weights=None, device: str = 'cpu', **kwargs):
        cfg = Config.fromfile(model) if isinstance(model, str) else model
        model_type = cfg.get('model', {}).get('type')
        if model_type not in _BY_MODEL:
            where = model if isinstance(model, str) else 'the config'
            raise ValueError(f'model.type {model_type!r} of {where} has no inferencer; '
                             f'one of {sorted(_BY_MODEL)}')
        return _BY_MODEL[model_type](cfg, weights=weights, device=device, **kwargs)


def tokenize_post(text: str, style: str = 'twitter2017'):
    """The words of ``text`` in a dataset's tokenisation (see :class:`PostTokenizer`)."""
    return PostTokenizer(style).words(text)


__all__ = ['PMUInferencer', 'MNERInferencer', 'MREInferencer', 'PostInferencer', 'PostTokenizer',
           'TOKENIZER_STYLES', 'tokenize_post', 'read_jsonl', 'word_windows']
