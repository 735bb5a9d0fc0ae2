"""Text that a captioner wrote from a post's real image, as a second input of MNER and MRE.

A caption source is a registered component (``CAPTIONS``) that maps an image file name
(``<IMGID>.jpg`` for Twitter, MNRE's ``img_id``) to a caption. :class:`CaptionFile` reads the
layouts published captions come in:

- ``'colon'``: one line ``<image> :<caption>`` per image (PGIM's BLIP-2 captions of
  Twitter-2015/2017);
- ``'json'``: one JSON object ``{"<image>": caption, ...}`` (CATR captions);
- ``'dict_lines'``: one Python dict literal ``{'img_id': ..., 'text': ...}`` per line (CAMIM's
  MNRE captions: BLIP, InstructBLIP, CogVLM, LLaVA-NeXT, MiniCPM-V);
- ``'jsonl'``: one JSON object ``{"image": ..., "caption": ...}`` per line (a user's own);
- ``'auto'``: chosen from the file name's extension and first line.

A dataset with ``captions=dict(type='CaptionFile', path=...)`` puts each sample's caption (or
``None``) into ``image_caption``; :class:`pmu.datasets.transforms.TokenizeWords` then encodes it as the
tokenizer's second segment. What is read, repeated or missing is counted and logged.
"""
import ast
import json
import os
import os.path as osp
from collections import Counter
from typing import Dict, Iterable, Optional, Tuple

from pmu.registry import CAPTIONS
from .text_files import DataFormatError, utf8_lines

FORMATS = ('colon', 'json', 'dict_lines', 'jsonl')


def guess_format(path: str) -> str:
    """The layout of a caption file, from its extension and first non-blank line."""
    if path.endswith('.jsonl'):
        return 'jsonl'
    if path.endswith('.json'):
        return 'json'
    for _, line in utf8_lines(path):
        line = line.strip()
        if line:
            if line.startswith('{"') and line.endswith('}'):
                return 'jsonl'
            return 'dict_lines' if line.startswith('{') else 'colon'
    raise DataFormatError(f'{path}: empty caption file')


def _records(path: str, fmt: str) -> Iterable[Tuple[int, str, object]]:
    """``(line, image name, caption)`` of every record; a malformed one raises naming ``path:line``."""
    if fmt == 'json':
        with open(path, encoding='utf-8-sig') as f:
            try:
                data = json.load(f)
            except json.JSONDecodeError as e:
                raise DataFormatError(f'{path}:{e.lineno}: not valid JSON ({e.msg})') from None
        if not isinstance(data, dict):
            raise DataFormatError(f'{path}: expected one JSON object {{"<image>": caption, ...}}, '
                                  f'got {type(data).__name__}')
        for image, caption in data.items():
            yield 1, image, caption
        return
    for line_no, line in utf8_lines(path):
        line = line.strip()
        if not line:
            continue
        where = f'{path}:{line_no}'
        if fmt == 'colon':
            image, sep, caption = line.partition(' :')
            if not sep:
                raise DataFormatError(f'{where}: expected "<image> :<caption>", got {line[:80]!r}')
            yield line_no, image.strip(), caption
            continue
        try:
            record = json.loads(line) if fmt == 'jsonl' else ast.literal_eval(line)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as e:
            kind = 'a JSON object' if fmt == 'jsonl' else 'a Python dict literal'
            raise DataFormatError(f'{where}: not {kind} ({type(e).__name__}): {line[:80]!r}') from None
        keys = ('image', 'caption') if fmt == 'jsonl' else ('img_id', 'text')
        if not isinstance(record, dict) or any(k not in record for k in keys):
            raise DataFormatError(f'{where}: expected a dict with keys {list(keys)}, got {line[:80]!r}')
        yield line_no, record[keys[0]], record[keys[1]]


class CaptionTable(dict):
    """Image name → caption, with what reading the file found (``counts``) and where it came from."""

    def __init__(self, path: str, fmt: str, captions: Dict[str, str], counts: Counter):
        super().__init__(captions)
        self.path, self.format, self.counts = path, fmt, counts


_CACHE: Dict[tuple, CaptionTable] = {}


def read_captions(path: str, fmt: str = 'auto') -> CaptionTable:
    """Read a caption file once per process (train and validation of a dataset often share one).

    A record whose image or caption is not a string raises :class:`DataFormatError` naming
    ``file:line``. An empty caption is dropped (the image then has none); an image given twice
    keeps its first caption. Both are counted in ``counts`` (``empty``, ``repeated``,
    ``conflicting``: repeated with another text).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'caption file {path} does not exist')
    if fmt != 'auto' and fmt not in FORMATS:
        raise ValueError(f"caption format {fmt!r}: one of 'auto', {', '.join(map(repr, FORMATS))}")
    fmt = guess_format(path) if fmt == 'auto' else fmt
    stat = os.stat(path)
    key = (osp.realpath(path), fmt, stat.st_mtime_ns, stat.st_size)
    if key in _CACHE:
        return _CACHE[key]
    captions, counts = {}, Counter()
    for line_no, image, caption in _records(path, fmt):
        if not isinstance(image, str) or not image.strip() or '\0' in image:
            raise DataFormatError(f'{path}:{line_no}: the image name must be a non-empty string, got {image!r}')
        if not isinstance(caption, str):
            raise DataFormatError(f'{path}:{line_no}: the caption of {image} must be a string, got '
                                  f'{type(caption).__name__}')
        counts['records'] += 1
        caption = ' '.join(caption.split())
        if not caption:
            counts['empty'] += 1
            continue
        if image in captions:
            counts['repeated'] += 1
            counts['conflicting'] += captions[image] != caption
            continue
        captions[image] = caption
    table = CaptionTable(path, fmt, captions, counts)
    _CACHE[key] = table
    return table


@CAPTIONS.register_module()
class CaptionFile:
    """Captions from one file (see the module's docstring for the layouts).

    Args:
        path: the file, relative to the dataset's ``data_root`` (or absolute).
        format: ``'auto'`` (default), ``'colon'``, ``'json'``, ``'dict_lines'`` or ``'jsonl'``.
        name: what logs and tables call the source (default: the file's name).
    """

    def __init__(self, path: str, format: str = 'auto', name: Optional[str] = None):
        if format != 'auto' and format not in FORMATS:
            raise ValueError(f"CaptionFile format {format!r}: one of 'auto', {', '.join(map(repr, FORMATS))}")
        self.path, self.format = path, format
        self.name = name or osp.splitext(osp.basename(path))[0]

    def load(self, data_root: Optional[str] = None) -> CaptionTable:
        path = self.path if osp.isabs(self.path) or not data_root else osp.join(data_root, self.path)
        return read_captions(path, self.format)

    def __repr__(self):
        return f'{type(self).__name__}(path={self.path!r}, format={self.format!r})'


def attach_captions(data_list, captions: Optional[dict], data_root: Optional[str], logger, source: str,
                    image_name) -> Optional[Counter]:
    """Set ``image_caption`` (a string or ``None``) on every sample from the configured caption source.

    ``image_name(info)`` gives the key a sample's caption is stored under (``None``: the sample
    names no image). Logs how many samples got a caption and what the file held that was
    dropped; returns those counts (``None`` when the dataset has no caption source).
    """
    if captions is None:
        return None
    src = CAPTIONS.build(captions) if isinstance(captions, dict) else captions
    table = src.load(data_root)
    counts = Counter()
    for info in data_list:
        caption = table.get(image_name(info) or '')
        info['image_caption'] = caption
        counts['with' if caption else 'without'] += 1
    total = len(data_list)
    logger.info(f'{source}: {counts["with"]}/{total} samples have a caption ({src.name}, {table.format} '
                f'file {table.path}: {len(table)} captions); {counts["without"]} without one run '
                'without the caption segment')
    dropped = {k: table.counts[k] for k in ('empty', 'repeated', 'conflicting') if table.counts[k]}
    if dropped:
        logger.warning(f'{table.path}: ' + ', '.join(f'{n} {k}' for k, n in dropped.items())
                       + ' records (empty captions dropped; an image given twice keeps its first caption)')
    return counts
