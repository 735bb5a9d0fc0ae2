"""One line of a pseudo-label cache's ``pairs.jsonl``.

The schema shared by its writer (``pmu.pseudo_labels``, the preparation step)
and its reader (``pmu.datasets.PretrainPairsDataset``), so that the two cannot
drift apart. A line, keys in this order (docs/pseudo_labels.md, "The cache")::

    {"index": 0, "id": "coco:88366", "image": "data/coco-mini/train2017/000000125870.jpg",
     "width": 640, "height": 383, "caption": "An airport filled with large passenger jets ...",
     "match": true,
     "entities": [{"text": "large passenger jets", "norm": "large passenger jet",
                   "label": "NOUN_CHUNK", "span": [23, 43]}],
     "objects": [{"box": [99.14, 154.83, 454.86, 235.7], "label": "airplane", "score": 0.4046}],
     "boxes_dropped": 0}

Every key is required except ``match`` (true when absent). A key this schema
does not know is an error naming ``file:line`` and the closest known key: a
hand-edited ``"Match": false`` would otherwise leave ``match`` at its default
and train a mismatched pair as matched. Each object's box must lie inside the
``width`` x ``height`` image (1 pixel of slack): the preparation clips every
detector box to the image, so a box outside it is a corrupt or edited cache,
an error too. Values are stored as parsed (no float conversion), so reading a
line and writing it again gives the same bytes.

>>> line = ('{"index": 0, "id": "p1", "image": "a.jpg", "width": 4, "height": 3, "caption": "A dog.", '
...         '"match": true, "entities": [{"text": "A dog", "norm": "dog", "label": "NOUN_CHUNK", "span": [0, 5]}], '
...         '"objects": [{"box": [0.0, 0.5, 4.0, 3.0], "label": "dog", "score": 0.9}], "boxes_dropped": 0}')
>>> record = PairRecord.from_json(line, 'pairs.jsonl', 1)
>>> record.objects[0].label, record.entities[0].span
('dog', [0, 5])
>>> record.to_json() == line
True
>>> PairRecord.from_json('{"index": 0}', 'pairs.jsonl', 7)
Traceback (most recent call last):
...
pmu.structures.pretrain_record.PairRecordError: pairs.jsonl:7: missing key 'id'
"""
import difflib
import json
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Tuple, Union

__all__ = ['EntityRecord', 'ObjectRecord', 'PairRecord', 'PairRecordError', 'read_pair_records']


class PairRecordError(ValueError):
    """A cache record that breaks the schema; the message starts with where it is (``file:line``)."""


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return (_is_int(v) or isinstance(v, float)) and math.isfinite(v)


# (what the error message calls it, the check)
_STR: Tuple[str, Callable[[Any], bool]] = ('a string', lambda v: isinstance(v, str))
_BOOL = ('true or false', lambda v: isinstance(v, bool))
_COUNT = ('an integer >= 0', lambda v: _is_int(v) and v >= 0)
_SIZE = ('an integer > 0', lambda v: _is_int(v) and v > 0)
_NUMBER = ('a finite number', _is_number)
_LIST = ('a list', lambda v: isinstance(v, list))
_SPAN = ('[start, end] with 0 <= start <= end',
         lambda v: isinstance(v, list) and len(v) == 2 and all(map(_is_int, v)) and 0 <= v[0] <= v[1])
_BOX = ('[x1, y1, x2, y2] of finite numbers', lambda v: isinstance(v, list) and len(v) == 4 and all(map(_is_number, v)))

_MISSING = object()


def _get(d: dict, key: str, kind, where: str, default=_MISSING):
    if key not in d:
        if default is not _MISSING:
            return default
        raise PairRecordError(f'{where}: missing key {key!r}')
    value = d[key]
    name, check = kind
    if not check(value):
        shown = repr(value)
        raise PairRecordError(f'{where}: {key!r} must be {name}, not {shown[:80]}{"..." if len(shown) > 80 else ""}')
    return value


def _as_dict(d, where: str) -> dict:
    if not isinstance(d, dict):
        raise PairRecordError(f'{where}: expected a JSON object, not {type(d).__name__}')
    return d


def _extra(d: dict, known: Tuple[str, ...], where: str = 'record') -> Dict[str, Any]:
    """Refuses a key not in ``known`` (the schema is closed: see the module); ``{}`` otherwise."""
    for k in d:
        if k not in known:
            close = difflib.get_close_matches(str(k).lower(), known, n=1, cutoff=0.6)
            raise PairRecordError(f'{where}: unknown key {k!r}' + (f'; did you mean {close[0]!r}?' if close else '')
                                  + f' (keys: {", ".join(known)})')
    return {}


#: how far (pixels) a box may reach outside its image: rounding only
BOX_SLACK = 1.0


def _check_boxes(objects: List['ObjectRecord'], width: int, height: int, where: str) -> None:
    for i, o in enumerate(objects):
        x1, y1, x2, y2 = o.box
        if not (-BOX_SLACK <= x1 <= x2 <= width + BOX_SLACK and -BOX_SLACK <= y1 <= y2 <= height + BOX_SLACK):
            raise PairRecordError(f'{where}: objects[{i}]: box {o.box} is not inside the {width}x{height} image '
                                  '(x1 <= x2 and y1 <= y2 in its pixels); the preparation clips boxes to the image, '
                                  'so this cache is corrupt or was edited')


@dataclass
class EntityRecord:
    """A candidate entity of the caption: ``span`` is a half-open character span in it; ``norm`` the
    normalised form the entity vocabulary counts; ``label`` a spaCy type, ``NOUN_CHUNK`` or ``NOUN``."""
    text: str
    norm: str
    label: str
    span: List[int]
    extra: Dict[str, Any] = field(default_factory=dict)

    KEYS = ('text', 'norm', 'label', 'span')

    @classmethod
    def from_dict(cls, d: dict, where: str = 'entity') -> 'EntityRecord':
        d = _as_dict(d, where)
        return cls(_get(d, 'text', _STR, where), _get(d, 'norm', _STR, where), _get(d, 'label', _STR, where),
                   _get(d, 'span', _SPAN, where), _extra(d, cls.KEYS, where))

    def to_dict(self) -> dict:
        return dict(text=self.text, norm=self.norm, label=self.label, span=self.span, **self.extra)


@dataclass
class ObjectRecord:
    """A detected object: ``box`` is ``x1, y1, x2, y2`` in the stored image's pixels (no EXIF rotation),
    ``label`` the detector's class name."""
    box: List[Union[int, float]]
    label: str
    score: Union[int, float]
    extra: Dict[str, Any] = field(default_factory=dict)

    KEYS = ('box', 'label', 'score')

    @classmethod
    def from_dict(cls, d: dict, where: str = 'object') -> 'ObjectRecord':
        d = _as_dict(d, where)
        return cls(_get(d, 'box', _BOX, where), _get(d, 'label', _STR, where), _get(d, 'score', _NUMBER, where),
                   _extra(d, cls.KEYS, where))

    def to_dict(self) -> dict:
        return dict(box=self.box, label=self.label, score=self.score, **self.extra)


@dataclass
class PairRecord:
    """One usable image–caption pair with its pseudo-label inputs.

    ``index`` is the pair's position in the configured corpus; ``id`` its stable
    pair id; ``image`` the path as the corpus resolved it; ``width``/``height``
    the stored image size; ``objects`` best score first; ``boxes_dropped`` the
    degenerate boxes the detector's output lost for this image.
    """
    index: int
    id: str
    image: str
    width: int
    height: int
    caption: str
    match: bool = True
    entities: List[EntityRecord] = field(default_factory=list)
    objects: List[ObjectRecord] = field(default_factory=list)
    boxes_dropped: int = 0
    extra: Dict[str, Any] = field(default_factory=dict)

    KEYS = ('index', 'id', 'image', 'width', 'height', 'caption', 'match', 'entities', 'objects', 'boxes_dropped')

    @classmethod
    def from_dict(cls, d: dict, where: str = 'pair record') -> 'PairRecord':
        d = _as_dict(d, where)
        _extra(d, cls.KEYS, where)
        # Checked in key order, so the first problem of a line is the one reported.
        record = cls(
            index=_get(d, 'index', _COUNT, where), id=_get(d, 'id', _STR, where),
            image=_get(d, 'image', _STR, where), width=_get(d, 'width', _SIZE, where),
            height=_get(d, 'height', _SIZE, where), caption=_get(d, 'caption', _STR, where),
            match=_get(d, 'match', _BOOL, where, default=True),
            entities=[EntityRecord.from_dict(e, f'{where}: entities[{i}]')
                      for i, e in enumerate(_get(d, 'entities', _LIST, where))],
            objects=[ObjectRecord.from_dict(o, f'{where}: objects[{i}]')
                     for i, o in enumerate(_get(d, 'objects', _LIST, where))],
            boxes_dropped=_get(d, 'boxes_dropped', _COUNT, where))
        _check_boxes(record.objects, record.width, record.height, where)
        return record

    @classmethod
    def from_json(cls, line: Union[str, bytes], source: str = '<string>', line_no: int = 0) -> 'PairRecord':
        """Parse one line of ``source``; a bad line raises ``PairRecordError`` naming ``source:line_no``."""
        where = f'{source}:{line_no}'
        try:
            d = json.loads(line)
        except UnicodeDecodeError as e:
            raise PairRecordError(f'{where}: not UTF-8 ({e})') from e
        except ValueError as e:
            raise PairRecordError(f'{where}: not valid JSON ({e})') from e
        return cls.from_dict(d, where)

    def to_dict(self) -> dict:
        return dict(index=self.index, id=self.id, image=self.image, width=self.width, height=self.height,
                    caption=self.caption, match=self.match, entities=[e.to_dict() for e in self.entities],
                    objects=[o.to_dict() for o in self.objects], boxes_dropped=self.boxes_dropped, **self.extra)

    def to_json(self) -> str:
        """One line of ``pairs.jsonl``, without the newline."""
        return json.dumps(self.to_dict(), ensure_ascii=False)


def read_pair_records(path: str) -> Iterator[PairRecord]:
    """The records of a ``pairs.jsonl``, in file order; blank lines are skipped, a bad one raises
    ``PairRecordError`` naming ``path:line``."""
    with open(path, 'rb') as f:
        for line_no, line in enumerate(f, 1):
            if line.strip():
                yield PairRecord.from_json(line, path, line_no)
