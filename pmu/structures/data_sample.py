"""The data sample that travels from the dataset to the model, the metric and the visualizer."""
from numbers import Integral, Real
from typing import Callable, Dict, Tuple

import numpy as np
import torch
from mmengine.structures import BaseDataElement


def _list_of(item_type, item_name: str) -> Tuple[Callable, str]:
    def check(value) -> bool:
        return isinstance(value, list) and all(isinstance(v, item_type) for v in value)
    return check, f'a list of {item_name}'


def _span(value) -> bool:
    return (isinstance(value, (tuple, list)) and len(value) == 2
            and all(isinstance(v, Integral) and not isinstance(v, bool) for v in value))


def _array(value) -> bool:
    return isinstance(value, (torch.Tensor, np.ndarray))


def _str(value) -> bool:
    return isinstance(value, str)


def _int(value) -> bool:
    return isinstance(value, Integral) and not isinstance(value, (bool, np.bool_))


_ARRAY = (_array, 'a Tensor or ndarray')
# data field -> (check, what it must be); a property per field below
DATA_FIELDS: Dict[str, Tuple[Callable, str]] = dict(
    gt_tags=_list_of(str, 'BIO tags (str), one per word'),
    pred_tags=_list_of(str, 'BIO tags (str), one per word'),
    head=(_span, 'a word span (start, end) of two ints'),
    tail=(_span, 'a word span (start, end) of two ints'),
    gt_relation=(_str, 'a str (a relation of rel2id.json)'),
    pred_relation=(_str, 'a str (a relation of rel2id.json)'),
    pred_scores=_ARRAY,
    pred_emissions=_ARRAY,
    gt_boxes=_ARRAY,
    gt_boxes_valid=_ARRAY,
    gt_labels=_list_of(str, 'class names (str)'),
    pred_image_feat=_ARRAY,
    pred_text_feat=_ARRAY)
# metainfo key -> (check, what it must be); other metainfo keys are free
METAINFO_FIELDS: Dict[str, Tuple[Callable, str]] = dict(
    sample_idx=(_int, 'an int'),
    img_path=(lambda v: v is None or isinstance(v, str), 'a str or None'),
    has_image=(lambda v: isinstance(v, (bool, np.bool_)), 'a bool'),
    words=_list_of(str, 'str'),
    word_ids=(lambda v: isinstance(v, list) and all(_int(i) for i in v), 'a list of int'),
    tokens=_list_of(str, 'str'),
    head_marker=(_int, 'an int'),
    tail_marker=(_int, 'an int'),
    num_cropped_words=(_int, 'an int'),
    crop_coverage=(lambda v: isinstance(v, Real) and not isinstance(v, bool), 'a number'))


def _check(name: str, value, check: Callable, what: str) -> None:
    if not check(value):
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + '...'
        raise TypeError(f'PMUDataSample.{name} must be {what}, got {type(value).__name__} {shown}')


def _typed_field(name: str) -> property:
    """A data field whose setter checks the type (as mmdet's ``DetDataSample.gt_instances``):
    the value is stored as ``_<name>``, which ``keys()``/``to_dict()`` show as ``<name>``."""
    check, what = DATA_FIELDS[name]

    def getter(self):
        return getattr(self, f'_{name}')

    def setter(self, value):
        _check(name, value, check, what)  # PMUDataSample.set_field checked it too, unless bypassed
        self.set_field(value, f'_{name}')

    def deleter(self):
        delattr(self, f'_{name}')

    return property(getter, setter, deleter, doc=f'{name}: {what}.')


class PMUDataSample(BaseDataElement):
    """One post (text + optional image) or one image–caption pair, with annotations and predictions.

    ``PackMultimodalInputs`` fills it from the pipeline's results (``meta_keys``
    → metainfo, ``data_keys`` → data fields); the model adds ``pred_*`` fields
    through ``ThreeModeModel.add_pred_to_datasample``.

    Metainfo, every task:
        ``sample_idx`` (int): index in the dataset. ``img_path`` (str or None)
        and ``has_image`` (bool): ``False`` when the image is missing or does
        not load (the model then runs text-only). ``ori_shape`` ((h, w)): the
        image as loaded. ``words`` (list[str]): the text as words (MRE: with
        the entity markers inserted). ``word_ids`` (list[int]): each word's
        first sub-word, ``-1`` for a word cut off by truncation.
    Metainfo, MNER / MRE:
        ``img_id`` (str): the dataset's image id. MRE only: ``tokens``
        (list[str], the post as given), ``head_name``/``tail_name`` (str),
        ``head_marker``/``tail_marker`` (int: word index of ``<e1>``/``<e2>``),
        ``num_cropped_words`` (int: words outside the window kept around the
        entities).
    Metainfo, pre-training:
        ``pair_id`` (str), ``caption`` (str), ``match`` (bool: the caption
        belongs to the image), ``img_shape`` ((h, w) after augmentation),
        ``flip`` (bool), ``crop_coverage`` (float: share of the original image
        the crop keeps).
    Data fields:
        MNER: ``gt_tags`` / ``pred_tags`` (list[str], one BIO tag per word).
        MRE: ``head``/``tail`` (word spans ``(start, end)`` of the post as
        given), ``gt_relation`` / ``pred_relation`` (str), ``pred_scores``
        (Tensor: probabilities over the relation inventory).
        ``pred_emissions`` (Tensor ``[kept words, num_tags]``: the CRF head's
        emissions that ``pred_tags`` decode; the inferencer decodes long posts
        over them and reads tag scores from them).
        Pre-training: ``gt_boxes`` (ndarray ``[K, 4]``, x1 y1 x2 y2 in input
        pixels), ``gt_boxes_valid`` (bool ``[K]``), ``gt_labels`` (detector
        class names), ``pred_image_feat`` / ``pred_text_feat`` (Tensor
        ``[E]``: normalised ITC features).

    The data fields above and the metainfo keys of ``METAINFO_FIELDS`` are
    typed: setting one to a value of another type raises a ``TypeError``
    that names the field and the type it takes.

    Example:
        >>> s = PMUDataSample(metainfo=dict(words=['Kevin', 'Durant', 'wins'], word_ids=[1, 2, -1]))
        >>> s.gt_tags = ['B-PER', 'I-PER', 'O']
        >>> s.num_words, s.num_truncated_words
        (3, 1)
        >>> s.gt_relation = ['/per/per/peer']
        Traceback (most recent call last):
        ...
        TypeError: PMUDataSample.gt_relation must be a str (a relation of rel2id.json), got list ['/per/per/peer']
    """

    def set_metainfo(self, metainfo: dict) -> None:
        for name, value in metainfo.items():  # all checked before any is set
            if name in METAINFO_FIELDS:
                _check(name, value, *METAINFO_FIELDS[name])
        super().set_metainfo(metainfo)

    def set_field(self, value, name: str, dtype=None, field_type: str = 'data') -> None:
        # checked before BaseDataElement records the name, so that a refused value leaves no trace
        if field_type == 'data' and name in DATA_FIELDS:
            _check(name, value, *DATA_FIELDS[name])
        elif field_type == 'metainfo' and name in METAINFO_FIELDS:
            _check(name, value, *METAINFO_FIELDS[name])
        super().set_field(value, name, dtype, field_type)

    def pop(self, *args):
        # a typed field's value lives under ``_<name>``
        if args and args[0] in DATA_FIELDS and args[0] in self._data_fields:
            value = getattr(self, args[0])
            delattr(self, args[0])
            return value
        return super().pop(*args)

    gt_tags = _typed_field('gt_tags')
    pred_tags = _typed_field('pred_tags')
    head = _typed_field('head')
    tail = _typed_field('tail')
    gt_relation = _typed_field('gt_relation')
    pred_relation = _typed_field('pred_relation')
    pred_scores = _typed_field('pred_scores')
    pred_emissions = _typed_field('pred_emissions')
    gt_boxes = _typed_field('gt_boxes')
    gt_boxes_valid = _typed_field('gt_boxes_valid')
    gt_labels = _typed_field('gt_labels')
    pred_image_feat = _typed_field('pred_image_feat')
    pred_text_feat = _typed_field('pred_text_feat')

    @property
    def num_words(self) -> int:
        return len(self.words)

    @property
    def num_truncated_words(self) -> int:
        return sum(1 for i in self.word_ids if i < 0)
