"""Image–caption pairs for PROMU's pseudo-label pre-training.

Every corpus yields dicts ``{'pair_id', 'img_path', 'caption', 'match'}``;
``match`` is False for deliberately mismatched pairs (kept as negatives for
image–text matching). ``pair_id`` is unique and stable across runs, so the
preparation step can resume by it.

Bad-input policy for annotation files (``on_bad_line``): ``'skip'`` (default)
skips a broken entry (not JSON, not UTF-8, a field missing or of the wrong
type, an id that does not resolve), counts it in ``self.skipped`` by reason and
keeps the first examples with ``file:line`` in ``self.skipped_examples``;
``'raise'`` stops at the first one with a :class:`CaptionFileError` naming
``file:line``. A file that cannot be read at all always raises. Empty captions
and unreadable images are judged later, per pair, by the preparation step.
An entry that is used after a repair (e.g. a Flickr8k CSV caption with an
unquoted comma) is counted in ``self.repaired`` by reason, its first examples
in ``self.repaired_examples``; the preparation logs both counters and puts
them in its ``summary.json``.
"""
import csv
import json
import os.path as osp
import re
from collections import Counter
from typing import Dict, Iterator, List, Optional, Tuple

from mmengine.dataset import BaseDataset
from mmengine.logging import MMLogger

from pmu.registry import DATASETS
from pmu.utils.paths import find_data_root, path_inside

__all__ = ['CaptionFileError', 'CocoCaptionPairs', 'Flickr8kCaptionPairs', 'JsonlCaptionPairs', 'NewsClippingsPairs']

MAX_SKIP_EXAMPLES = 20
_JSONL_KEYS = ('image', 'caption', 'match', 'id')


class CaptionFileError(ValueError):
    """A caption/annotation file entry that cannot be used; the message names file and line."""


class _CaptionPairs(BaseDataset):
    """Shared parts: data root resolution and the bad-entry policy."""

    def __init__(self, ann_file: str, data_root: Optional[str] = None, data_prefix: Optional[dict] = None,
                 on_bad_line: str = 'skip', allow_outside_images: bool = False, **kwargs):
        if on_bad_line not in ('skip', 'raise'):
            raise ValueError(f"on_bad_line must be 'skip' or 'raise', not {on_bad_line!r}")
        self.on_bad_line = on_bad_line
        self.allow_outside_images = allow_outside_images
        self.skipped = Counter()
        self.skipped_examples: List[str] = []
        self.repaired = Counter()
        self.repaired_examples: List[str] = []
        # Without an image prefix, JSONL and NewsCLIPpings resolve images next to their files.
        self.img_prefix_given = bool(data_prefix and data_prefix.get('img'))
        super().__init__(ann_file=ann_file, data_root=find_data_root(data_root),
                         data_prefix=data_prefix or dict(img=''), **kwargs)

    def _image_root(self, default: str) -> str:
        return self.data_prefix['img'] if self.img_prefix_given else default

    def _bad(self, where: str, reason: str, detail: str):
        message = f'{where}: {reason}: {detail}'
        if self.on_bad_line == 'raise':
            raise CaptionFileError(message + " (set on_bad_line='skip' to skip and count such entries)")
        self.skipped[reason] += 1
        if len(self.skipped_examples) < MAX_SKIP_EXAMPLES:
            self.skipped_examples.append(message)

    def _image_inside(self, where: str, image_root: str, image: str) -> str:
        """The path of ``image`` under ``image_root``; a name that leads out of the folder (``../x.jpg``,
        ``/etc/passwd``, a link pointing out) or holds a NUL byte stops loading naming ``where``, unless
        ``allow_outside_images`` (as the Twitter and MNRE datasets)."""
        if '\x00' in image:
            raise CaptionFileError(f'{where}: image {image!r} holds a NUL byte, which no file name can')
        path, inside = path_inside(image_root, image)
        if not inside and not self.allow_outside_images:
            raise CaptionFileError(
                f'{where}: image {image!r} points outside the image folder {image_root!r} (to {osp.realpath(path)}); '
                'image names must stay inside it (set allow_outside_images=True in the dataset config to allow this)')
        return path

    def _repaired(self, where: str, reason: str, detail: str):
        """An entry used after a repair that cannot be wrong for the format (counted, never an error)."""
        self.repaired[reason] += 1
        if len(self.repaired_examples) < MAX_SKIP_EXAMPLES:
            self.repaired_examples.append(f'{where}: {reason}: {detail}')

    def _read_json(self, path: str):
        try:
            with open(path, encoding='utf-8') as f:
                return json.load(f)
        except FileNotFoundError:
            raise FileNotFoundError(f'{type(self).__name__}: annotation file {path} not found') from None
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise CaptionFileError(f'{path}: not a UTF-8 JSON file: {e}') from e


@DATASETS.register_module()
class CocoCaptionPairs(_CaptionPairs):
    """COCO captions: one pair per caption (five an image), all matched.

    Args:
        ann_file: ``captions_*.json``, relative to ``data_root``.
        data_prefix: ``dict(img=<image folder>)``, relative to ``data_root``.
        data_root: default ``pmu.utils.find_data_root()``.

    ``self.instances_file`` is the ``instances_*.json`` beside the captions when
    present (for :class:`~pmu.pseudo_labels.AnnotationDetector`), else None.
    """

    def load_data_list(self) -> List[dict]:
        coco = self._read_json(self.ann_file)
        instances = osp.join(osp.dirname(self.ann_file), osp.basename(self.ann_file).replace('captions_', 'instances_'))
        self.instances_file = instances if instances != self.ann_file and osp.exists(instances) else None
        images = {img['id']: img for img in coco['images']}
        by_image = {}
        for i, ann in enumerate(coco['annotations']):
            where = f'{self.ann_file}: annotations[{i}]'
            if ann.get('image_id') not in images:
                self._bad(where, 'unknown_image_id', f"image_id {ann.get('image_id')!r} not in images")
                continue
            if not isinstance(ann.get('caption'), str) or 'id' not in ann:
                self._bad(where, 'missing_field', "needs 'id' and a string 'caption'")
                continue
            by_image.setdefault(ann['image_id'], []).append(ann)
        pairs = []
        # Pairs of one image stay together so the detector sees each image once.
        for image_id, anns in by_image.items():
            img_path = self._image_inside(f"{self.ann_file}: image id {image_id}", self.data_prefix['img'],
                                          images[image_id]['file_name'])
            for ann in anns:
                pairs.append(dict(pair_id=f"coco:{ann['id']}", img_id=image_id, img_path=img_path,
                                  caption=ann['caption'], match=True))
        return pairs


@DATASETS.register_module()
class JsonlCaptionPairs(_CaptionPairs):
    """One JSON object a line: ``{"image": path, "caption": str, "match": bool?, "id": str?}``.

    ``image`` is relative to ``data_prefix['img']`` (default: the JSONL file's
    folder) and must stay inside it (an error naming ``file:line`` otherwise,
    unless ``allow_outside_images=True``); ``match`` defaults to true; ``id``
    defaults to ``<file name>:<line>``. Other keys are ignored, but one of these
    in other letter case is a bad entry (``misspelt_key``): ``"Match": false``
    would otherwise pass as matched.
    """

    def load_data_list(self) -> List[dict]:
        image_root = self._image_root(osp.dirname(self.ann_file))
        name = osp.basename(self.ann_file)
        pairs = []
        try:
            f = open(self.ann_file, 'rb')
        except FileNotFoundError:
            raise FileNotFoundError(f'JsonlCaptionPairs: {self.ann_file} not found') from None
        with f:
            # Bytes, decoded line by line: one non-UTF-8 line must not sink the file.
            for lineno, raw in enumerate(f, 1):
                where = f'{self.ann_file}:{lineno}'
                if not raw.strip():
                    continue
                try:
                    record = json.loads(raw.decode('utf-8'))
                except UnicodeDecodeError as e:
                    self._bad(where, 'not_utf8', str(e))
                    continue
                except json.JSONDecodeError as e:
                    self._bad(where, 'bad_json', str(e))
                    continue
                if not isinstance(record, dict) or not isinstance(record.get('image'), str) \
                        or not isinstance(record.get('caption'), str):
                    self._bad(where, 'missing_field', "needs string fields 'image' and 'caption'")
                    continue
                misspelt = sorted(k for k in record if k.lower() in _JSONL_KEYS and k not in _JSONL_KEYS)
                if misspelt:
                    self._bad(where, 'misspelt_key', f'{misspelt[0]!r} is not {misspelt[0].lower()!r} (keys are '
                                                     'case-sensitive)')
                    continue
                match = record.get('match', True)
                if not isinstance(match, bool):
                    self._bad(where, 'missing_field', f"'match' must be true or false, not {match!r}")
                    continue
                pairs.append(dict(pair_id=str(record.get('id', f'{name}:{lineno}')),
                                  img_path=self._image_inside(where, image_root, record['image']),
                                  caption=record['caption'], match=match))
        return pairs


@DATASETS.register_module()
class NewsClippingsPairs(_CaptionPairs):
    """NewsCLIPpings (Luo et al., EMNLP 2021) over VisualNews.

    ``ann_file`` is a NewsCLIPpings split, ``{"annotations": [{"id": caption's
    VisualNews id, "image_id": image's VisualNews id, "falsified": bool, ...}]}``;
    ``visual_news_file`` is VisualNews' ``data.json`` (a list of ``{"id",
    "caption", "image_path", ...}``) whose ``image_path`` values are relative to
    ``data_prefix['img']`` (default: data.json's folder). Falsified pairs are
    kept with ``match=False``.
    """

    def __init__(self, ann_file: str, visual_news_file: str, **kwargs):
        self.visual_news_file = visual_news_file
        super().__init__(ann_file=ann_file, **kwargs)

    def load_data_list(self) -> List[dict]:
        vn_file = self.visual_news_file
        if not osp.isabs(vn_file):
            vn_file = osp.join(self.data_root, vn_file)
        image_root = self._image_root(osp.dirname(vn_file))
        visual_news = {item['id']: item for item in self._read_json(vn_file)}
        pairs = []
        for i, ann in enumerate(self._read_json(self.ann_file)['annotations']):
            where = f'{self.ann_file}: annotations[{i}]'
            if not {'id', 'image_id', 'falsified'} <= set(ann):
                self._bad(where, 'missing_field', "needs 'id', 'image_id' and 'falsified'")
                continue
            caption_item, image_item = visual_news.get(ann['id']), visual_news.get(ann['image_id'])
            if caption_item is None or image_item is None:
                missing = ann['id'] if caption_item is None else ann['image_id']
                self._bad(where, 'unknown_visual_news_id', f'id {missing!r} not in {vn_file}')
                continue
            pairs.append(dict(pair_id=f"newsclippings:{ann['id']}-{ann['image_id']}", img_id=ann['image_id'],
                              img_path=osp.normpath(self._image_inside(where, image_root, image_item['image_path'])),
                              caption=caption_item['caption'], match=not ann['falsified']))
        return pairs


_FLICKR_HEADER = 'image,caption'
_FLICKR_CAPTION_ID = re.compile(r'^(?P<image>.+)#(?P<n>\d+)$')
_FLICKR_SPACED = re.compile(r'^(?P<key>\S+#\d+)\s+(?P<caption>.*)$')


@DATASETS.register_module()
class Flickr8kCaptionPairs(_CaptionPairs):
    """Flickr8k (Hodosh et al., JAIR 2013): five captions a photo, all matched.

    The captions file comes in two common layouts, told apart by its first line
    (``layout='auto'``) or named:

    - ``'csv'``: a header ``image,caption``, then ``<image>,<caption>`` a line,
      the caption quoted where it holds a comma (the ``captions.txt`` of the
      Kaggle copies);
    - ``'token'``: ``<image>#<n><TAB><caption>`` a line, without a header (the
      original ``Flickr8k.token.txt``, and ``Flickr8k.lemma.token.txt``).

    Pair ids are ``flickr8k:<image>#<n>``: the file's ``n`` in the token
    layout, the caption's position among its image's captions in the CSV (the
    same numbers for the same file order), so a resumed preparation finds them.

    Args:
        ann_file: the captions file, relative to ``data_root``.
        split_file: a list of image names, one a line (``Flickr_8k.trainImages.txt``
            ...), relative to ``data_root``: only its images are kept. A listed
            image without any caption is a bad entry of the split file. None:
            every image of the captions file.
        layout: ``'auto'``, ``'csv'`` or ``'token'``.
        data_prefix: ``dict(img=<image folder>)``, relative to ``data_root``;
            default: ``Images/`` beside the captions file.

    Bad entries (policy ``on_bad_line``, see the module): a line that is not
    UTF-8 (``not_utf8``), a CSV line with a broken quote (``bad_csv``), a line
    without image or caption (``missing_field``), a token-layout id that is not
    ``<image>#<n>`` (``bad_caption_id``), the same id twice (``duplicate_id``),
    an image name that leads out of the image folder (``image_outside_folder``:
    ``../x.jpg``, an absolute path, a link), a split image without captions
    (``no_captions``). Repaired and counted: a CSV caption with an unquoted
    comma (everything after the first comma is the caption), a token line
    whose id and caption are separated by spaces instead of a tab, a repeated
    CSV header (concatenated files). Captions of images outside the split are
    counted in ``self.outside_split``.
    """

    LAYOUTS = ('auto', 'csv', 'token')

    def __init__(self, ann_file: str, split_file: Optional[str] = None, layout: str = 'auto', **kwargs):
        if layout not in self.LAYOUTS:
            raise ValueError(f'layout must be one of {self.LAYOUTS}, not {layout!r}')
        self.split_file = split_file
        self.layout = layout
        self.outside_split = 0
        super().__init__(ann_file=ann_file, **kwargs)

    # ---------------------------------------------------------------------------------- reading

    def _lines(self, path: str) -> Iterator[Tuple[int, str]]:
        """``(line number, text)`` of the non-blank lines; a non-UTF-8 line is a bad entry, not the file's end."""
        try:
            f = open(path, 'rb')
        except FileNotFoundError:
            raise FileNotFoundError(f'{type(self).__name__}: {path} not found') from None
        with f:
            for lineno, raw in enumerate(f, 1):
                try:
                    text = raw.decode('utf-8')
                except UnicodeDecodeError as e:
                    self._bad(f'{path}:{lineno}', 'not_utf8', str(e))
                    continue
                text = text.lstrip('\ufeff') if lineno == 1 else text
                if text.strip():
                    yield lineno, text.rstrip('\r\n')

    def _detect_layout(self, first_line: str) -> str:
        if self.layout != 'auto':
            return self.layout
        if first_line.strip().lower() == _FLICKR_HEADER:
            return 'csv'
        head = first_line.split('\t', 1)[0].split(None, 1)[0] if first_line.strip() else ''
        return 'token' if _FLICKR_CAPTION_ID.match(head) else 'csv'

    def _parse_csv(self, where: str, line: str) -> Optional[Tuple[str, Optional[int], str]]:
        if line.strip().lower() == _FLICKR_HEADER:
            return None  # the header (a repeated one is counted by the caller)
        try:
            fields = next(csv.reader([line], strict=True, skipinitialspace=True))
        except csv.Error as e:
            self._bad(where, 'bad_csv', f'{e} (a quote that is not closed?)')
            return None
        if len(fields) < 2 or not fields[0].strip():
            self._bad(where, 'missing_field', f'needs <image>,<caption>, not {line[:80]!r}')
            return None
        if len(fields) > 2:
            # Only the caption can hold commas: image names of Flickr8k never do.
            self._repaired(where, 'unquoted_comma', f'{len(fields)} fields; the caption is all after the first comma')
            return fields[0].strip(), None, line.split(',', 1)[1]
        return fields[0].strip(), None, fields[1]

    def _parse_token(self, where: str, line: str) -> Optional[Tuple[str, Optional[int], str]]:
        key, tab, caption = line.partition('\t')
        if not tab:
            spaced = _FLICKR_SPACED.match(line.strip())
            if not spaced:
                self._bad(where, 'missing_field', f'needs <image>#<n><TAB><caption>, not {line[:80]!r}')
                return None
            self._repaired(where, 'space_for_tab', 'id and caption separated by spaces')
            key, caption = spaced.group('key'), spaced.group('caption')
        parsed = _FLICKR_CAPTION_ID.match(key.strip())
        if not parsed:
            self._bad(where, 'bad_caption_id', f'{key.strip()!r} is not <image>#<n>')
            return None
        return parsed.group('image'), int(parsed.group('n')), caption

    def _read_split(self) -> Optional[Dict[str, str]]:
        """``{image name: 'file:line'}`` of the split file, or None without one."""
        if not self.split_file:
            return None
        path = self.split_file if osp.isabs(self.split_file) else osp.join(self.data_root, self.split_file)
        return {line.strip(): f'{path}:{lineno}' for lineno, line in self._lines(path)}

    # ---------------------------------------------------------------------------------- pairs

    def load_data_list(self) -> List[dict]:
        image_root = self._image_root(osp.join(osp.dirname(self.ann_file), 'Images'))
        split = self._read_split()
        by_image: Dict[str, List[dict]] = {}
        first_seen: Dict[str, str] = {}
        resolved: Dict[str, Tuple[str, bool]] = {}
        mentioned = set()
        layout, parse = None, None
        for lineno, line in self._lines(self.ann_file):
            where = f'{self.ann_file}:{lineno}'
            if layout is None:
                layout = self._detect_layout(line)
                parse = self._parse_csv if layout == 'csv' else self._parse_token
            elif layout == 'csv' and line.strip().lower() == _FLICKR_HEADER:
                self._repaired(where, 'repeated_header', 'a second image,caption header line, left out')
                continue
            parsed = parse(where, line)
            if parsed is None:
                continue
            image, n, caption = parsed
            mentioned.add(image)
            if split is not None and image not in split:
                self.outside_split += 1
                continue
            if image not in resolved:  # once per image: resolving links costs a few system calls
                resolved[image] = path_inside(image_root, image)
            path, inside = resolved[image]
            if not inside:
                self._bad(where, 'image_outside_folder', f'{image!r} leads out of the image folder {image_root}')
                continue
            captions = by_image.setdefault(image, [])
            pair_id = f'flickr8k:{image}#{len(captions) if n is None else n}'
            if pair_id in first_seen:
                self._bad(where, 'duplicate_id', f'{pair_id} already at {first_seen[pair_id]}')
                continue
            first_seen[pair_id] = where
            captions.append(dict(pair_id=pair_id, img_id=image, img_path=path, caption=caption.strip(), match=True))
        for image, where in (split or {}).items():
            if image not in mentioned:
                self._bad(where, 'no_captions', f'split image {image!r} has no caption in {self.ann_file}')
        # Pairs of one image stay together so the preparation decodes and detects it once.
        pairs = [p for captions in by_image.values() for p in captions]
        self._log(pairs, layout, len(by_image))
        return pairs

    def _log(self, pairs: List[dict], layout: Optional[str], images: int) -> None:
        problems = self.skipped or self.repaired
        message = (f'{type(self).__name__}: {len(pairs)} pairs of {images} images from {self.ann_file} '
                   f'({layout or "empty"} layout'
                   + (f'; split {self.split_file}, {self.outside_split} captions of other images left out'
                      if self.split_file else '') + ')')
        if problems:
            message += (f'; skipped {dict(self.skipped)}, repaired {dict(self.repaired)}; e.g. '
                        f'{(self.skipped_examples + self.repaired_examples)[:3]}')
        logger = MMLogger.get_current_instance()
        (logger.warning if problems else logger.info)(message)
