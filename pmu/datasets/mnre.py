"""MNRE multimodal relation extraction (Zheng et al., ICME 2021).

A file holds one instance per line, written as a Python dict literal (single
quotes, so not JSON)::

    {'token': [...], 'h': {'name': ..., 'pos': [start, end]},
     't': {'name': ..., 'pos': [start, end]}, 'img_id': '....jpg',
     'relation': '/per/per/parent'}

``pos`` is a half-open token span; ``rel2id.json`` maps the relations
(``None`` included) to ids.
"""
import ast
import json
import os.path as osp
from collections import Counter
from typing import List, Optional, Sequence, Tuple

from mmengine.dataset import BaseDataset
from mmengine.logging import MMLogger

from pmu.registry import DATASETS
from pmu.utils import find_data_root
from pmu.utils.paths import path_inside
from .captions import attach_captions
from .image_check import mark_images
from .transforms.markers import count_cropped_instances
from .truncation import count_caption_segments, count_truncated_entities, log_caption_segments, log_truncation
from .twitter import DataFormatError, utf8_lines


def read_rel2id(path: str) -> List[str]:
    """The relation names of ``rel2id.json`` in id order; ids must be ``0..n-1``."""
    try:
        with open(path, encoding='utf-8') as f:
            rel2id = json.load(f)
    except json.JSONDecodeError as e:
        raise DataFormatError(f'{path}:{e.lineno}: not valid JSON ({e.msg})') from e
    if not isinstance(rel2id, dict) or not rel2id:
        raise DataFormatError(f'{path}: expected a non-empty JSON object '
                              '{"relation": id, ...}')
    ids = sorted(rel2id.values()) if all(isinstance(v, int) for v in rel2id.values()) else None
    if ids != list(range(len(rel2id))):
        raise DataFormatError(f'{path}: relation ids must be the integers 0..{len(rel2id) - 1}, '
                              f'each once; got {sorted(rel2id.values(), key=str)}')
    return sorted(rel2id, key=rel2id.get)


def _span(value, key: str, n_tokens: int, where: str) -> Tuple[int, int]:
    if not isinstance(value, dict) or 'pos' not in value:
        raise DataFormatError(f"{where}: '{key}' must be a dict with 'pos': [start, end]")
    pos = value['pos']
    if (not isinstance(pos, (list, tuple)) or len(pos) != 2
            or not all(isinstance(p, int) and not isinstance(p, bool) for p in pos)):
        raise DataFormatError(
            f"{where}: '{key}' pos must be two integers [start, end], got {pos!r}")
    start, end = pos
    if not 0 <= start < end <= n_tokens:
        raise DataFormatError(
            f"{where}: '{key}' span {list(pos)} is not a non-empty half-open span inside the "
            f'sentence of {n_tokens} tokens (need 0 <= start < end <= {n_tokens})')
    return start, end


def _check_unique_keys(tree: ast.AST, where: str) -> None:
    """A key given twice in one dict literal (``ast.literal_eval`` would silently keep the last)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            seen = set()
            for key in node.keys:
                if isinstance(key, ast.Constant):
                    if key.value in seen:
                        raise DataFormatError(f'{where}: key {key.value!r} is given twice in one dict (column '
                                              f'{key.col_offset + 1}); which one is meant?')
                    seen.add(key.value)


def _check_name(name, span_tokens: List[str], key: str, pos: List[int], where: str) -> None:
    """``name`` must be the span's tokens, joined with or without spaces (whitespace aside); no name: not checked."""
    if name is None:
        return
    if not isinstance(name, str):
        raise DataFormatError(f"{where}: '{key}' name must be a string, got {name!r}")
    if ''.join(name.split()) != ''.join(''.join(span_tokens).split()):
        raise DataFormatError(f"{where}: '{key}' name {name!r} is not the words of its pos {pos}: {span_tokens!r} "
                              '(the positions contradict the entity; fix pos or name)')


def parse_mnre_line(line: str, where: str, relations: Sequence[str]) -> dict:
    """One validated MNRE record; every problem raises :class:`DataFormatError` at ``where``."""
    try:
        tree = ast.parse(line, mode='eval')
        _check_unique_keys(tree, where)
        record = ast.literal_eval(tree)
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError) as e:
        if isinstance(e, DataFormatError):
            raise
        raise DataFormatError(f'{where}: not a Python dict literal ({type(e).__name__}: '
                              f'{getattr(e, "msg", e)}): {line[:80]!r}') from None
    if not isinstance(record, dict):
        raise DataFormatError(f'{where}: expected a dict, got {type(record).__name__}')
    missing = [k for k in ('token', 'h', 't', 'img_id', 'relation') if k not in record]
    if missing:
        raise DataFormatError(f'{where}: missing key(s) {missing}')
    tokens = record['token']
    if (not isinstance(tokens, list) or not tokens
            or not all(isinstance(t, str) and t for t in tokens)):
        raise DataFormatError(f"{where}: 'token' must be a non-empty list of non-empty strings")
    head = _span(record['h'], 'h', len(tokens), where)
    tail = _span(record['t'], 't', len(tokens), where)
    relation = record['relation']
    if relation not in relations:
        raise DataFormatError(f'{where}: relation {relation!r} is not in rel2id.json '
                              f'(known: {list(relations)})')
    if not isinstance(record['img_id'], str) or not record['img_id']:
        raise DataFormatError(f"{where}: 'img_id' must be a non-empty string")
    if '\x00' in record['img_id']:
        raise DataFormatError(f"{where}: img_id {record['img_id']!r} holds a NUL byte, which no file name can")
    for key, (start, end) in (('h', head), ('t', tail)):
        _check_name(record[key].get('name'), tokens[start:end], key, [start, end], where)
    return dict(
        tokens=tokens,
        head=head,
        tail=tail,
        head_name=record['h'].get('name'),
        tail_name=record['t'].get('name'),
        img_id=record['img_id'],
        gt_relation=relation)


def read_mnre(path: str, relations: Sequence[str]) -> List[dict]:
    """All records of an MNRE file, each with its ``line_no``; blank lines are skipped."""
    records = []
    relations = dict.fromkeys(relations)  # ordered, for the message; fast membership
    first = {}  # instance (words, head, tail, image) -> its first record
    for line_no, line in utf8_lines(path):  # never eval(): parse_mnre_line reads literals only
        if not line.strip():
            continue
        record = parse_mnre_line(line.strip(), f'{path}:{line_no}', relations)
        record['line_no'] = line_no
        key = (tuple(record['tokens']), record['head'], record['tail'], record['img_id'])
        earlier = first.setdefault(key, record)
        if earlier is not record:
            if earlier['gt_relation'] != record['gt_relation']:
                raise DataFormatError(
                    f"{path}:{line_no}: the instance of line {earlier['line_no']} (same words, head, tail and "
                    f"image) again, with relation {record['gt_relation']!r} instead of {earlier['gt_relation']!r}")
            record['duplicate_of'] = earlier['line_no']
        records.append(record)
    if not records:
        raise DataFormatError(f'{path}: no instances (empty file?)')
    return records


@DATASETS.register_module()
class MNREDataset(BaseDataset):
    """Multimodal relation extraction instances: a post, its image, a head and a tail entity.

    Each sample has ``tokens`` (the post) and ``words`` (the same list, into
    which :class:`InsertEntityMarkers` puts the markers), ``head``/``tail``
    half-open token spans, ``gt_relation`` (a name from ``rel2id.json``),
    ``img_path`` and ``has_image``. Missing or unreadable images are kept and
    counted (almost all MNRE images are unavailable offline).

    Args:
        ann_file: ``mnre_{train,val,test}.txt``, relative to ``data_root``.
        rel2id_file: the relation inventory, relative to ``data_root``; its id
            order is ``metainfo['relations']``.
        data_root: ``None`` uses :func:`pmu.utils.find_data_root`.
        data_prefix: ``dict(img_path=...)``, the image folder of the split.
        allow_outside_images: let an ``img_id`` name a file outside the image
            folder (``../val/x.jpg``, an absolute path, a link pointing out).
            Default ``False``: such an ``img_id`` stops loading with an error
            naming file and line, so no other split's image or system file is read.
        captions: a caption source of the split's images, e.g.
            ``dict(type='CaptionFile', path='captions/mnre_blip_val.txt')``
            (:mod:`pmu.datasets.captions`), keyed by ``img_id``. ``None``: no captions.
    """

    def __init__(self,
                 ann_file: str,
                 rel2id_file: str = 'mnre/rel2id.json',
                 data_root: Optional[str] = None,
                 data_prefix: dict = dict(img_path=''),
                 allow_outside_images: bool = False,
                 captions: Optional[dict] = None,
                 **kwargs):
        self.allow_outside_images = allow_outside_images
        self.captions = captions
        data_root = find_data_root(data_root)
        self.rel2id_file = rel2id_file if osp.isabs(rel2id_file) else osp.join(
            data_root, rel2id_file)
        super().__init__(
            ann_file=ann_file, data_root=data_root, data_prefix=data_prefix, **kwargs)

    def load_data_list(self) -> List[dict]:
        logger = MMLogger.get_current_instance()
        for path in (self.ann_file, self.rel2id_file):
            if not osp.isfile(path):
                raise FileNotFoundError(
                    f'{path} does not exist (data_root={self.data_root!r}; '
                    'set PMU_DATA_ROOT or data_root in the config)')
        relations = read_rel2id(self.rel2id_file)
        records = read_mnre(self.ann_file, relations)
        img_dir = self.data_prefix.get('img_path', '')
        data_list = []
        for idx, r in enumerate(records):
            img_path, inside = path_inside(img_dir, r['img_id'])
            if not inside and not self.allow_outside_images:
                raise DataFormatError(
                    f"{self.ann_file}:{r['line_no']}: img_id {r['img_id']!r} points outside the image folder "
                    f'{img_dir!r} (to {osp.realpath(img_path)}); image names must stay inside it '
                    '(set allow_outside_images=True in the dataset config to allow this)')
            r.update(
                sample_idx=idx,
                img_path=img_path,
                words=list(r['tokens']))
            data_list.append(r)
        self._metainfo.update(relations=tuple(relations))
        name = osp.relpath(self.ann_file)
        counts = Counter(r['gt_relation'] for r in data_list)
        absent = [rel for rel in relations if not counts[rel]]
        logger.info(f'{name}: {len(data_list)} instances, {len(relations)} relations '
                    f'(most frequent: {counts.most_common(3)})'
                    + (f'; relations that never occur: {absent}' if absent else ''))
        repeated = [r for r in data_list if 'duplicate_of' in r]
        if repeated:  # policy: kept and counted (the real MNRE files have none)
            logger.warning(
                f'{name}: {len(repeated)} instances repeat an earlier one (same words, head, tail, image and '
                'relation; kept, each copy is trained on and scored): ' + '; '.join(
                    f"line {r['line_no']} = line {r['duplicate_of']}" for r in repeated[:3])
                + ('; ...' if len(repeated) > 3 else ''))
        mark_images(data_list, logger, name)
        attach_captions(data_list, self.captions, self.data_root, logger, name, lambda info: info['img_id'])
        # cropping is counted below, with the markers in place; here only the words with no sub-word
        log_truncation(count_truncated_entities(data_list, self.pipeline)._replace(sentences=0), logger, name)
        if self.captions is not None:
            log_caption_segments(count_caption_segments(data_list, self.pipeline), logger, name)
        n_cropped, n_lost = count_cropped_instances(data_list, self.pipeline)
        if n_cropped:
            logger.warning(
                f'{name}: {n_cropped} instances exceed the tokenizer max_length and are cut '
                'to a window around the entities (or at their end, where the entities alone do not fit)' +
                (f'; in {n_lost} the entities alone do not fit and a marker is lost '
                 '(the model falls back to [CLS] for it)' if n_lost else ''))
        return data_list
