"""Pictures and HTML pages of posts with their entities, grounded regions and relations.

A *result* is what the inferencers return (and what ``tools/analysis/browse_dataset.py`` builds from
data samples):

- MNER: ``{'text', 'image' (path or None), 'has_image', 'words', 'tags', 'entities': [{'text', 'type',
  'start', 'end' (character offsets into 'text'), 'score', optional 'region': None | {'box', 'label',
  'detector_score', 'score'}}], optional 'gold_entities' (same shape)}``;
- MRE: ``{'text', 'image', 'has_image', 'head': {'text', 'start', 'end'}, 'tail': {...}, 'relation',
  'score', 'scores': {relation: p}}`` (optional ``'gold_relation'``);
- evaluation results (``tools/test.py --show-dir``, :mod:`pmu.visualization.error_report`) add ``'errors':
  [{'kind', 'message'}]`` (drawn one line each, in the kind's colour, under the gold) and mark each wrong
  entity or gold entity with ``'error': kind``;
- pre-training pairs: optional ``'objects': [{'box', 'label', 'score', optional 'soft_labels':
  [[entry, p], ...]}]`` (detections and the teacher's top soft-label entries), drawn too.

Boxes are in pixels of the upright image as :func:`pmu.utils.image.load_image` returns it, unless the
result says ``'upright': False`` (the pseudo-label cache's boxes refer to the pixels as stored).
"""
import base64
import html
import io
import itertools
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.visualization import Visualizer
from PIL import Image, ImageDraw, ImageFont

from pmu.registry import VISUALIZERS
from pmu.structures import entity_spans
from pmu.utils.image import load_image

#: one colour per entity type (RGB); other types get one of :data:`EXTRA_COLOURS` by name
TYPE_COLOURS: Dict[str, Tuple[int, int, int]] = {
    'PER': (230, 25, 75), 'LOC': (60, 180, 75), 'ORG': (0, 130, 200), 'MISC': (245, 130, 48),
    'OTHER': (245, 130, 48), 'HEAD': (230, 25, 75), 'TAIL': (0, 130, 200), 'OBJECT': (128, 128, 128)}
EXTRA_COLOURS = [(145, 30, 180), (70, 240, 240), (240, 50, 230), (170, 110, 40), (128, 0, 0), (0, 128, 128)]
#: one colour per error kind (:mod:`pmu.evaluation.error_analysis`), dark enough for text on white
ERROR_COLOURS: Dict[str, Tuple[int, int, int]] = {
    'false_positive': (214, 39, 40), 'miss': (148, 103, 189), 'wrong_type': (31, 119, 180),
    'wrong_boundary': (140, 86, 75), 'wrong_boundary_type': (188, 60, 140), 'wrong_relation': (31, 119, 180),
    'missed_relation': (148, 103, 189), 'spurious_relation': (214, 39, 40)}

#: what pages and pictures call each error kind
ERROR_NAMES: Dict[str, str] = {
    'false_positive': 'false positive', 'miss': 'miss', 'wrong_type': 'wrong type',
    'wrong_boundary': 'wrong boundary (same type)', 'wrong_boundary_type': 'wrong boundary and type',
    'wrong_relation': 'wrong relation', 'missed_relation': 'missed relation',
    'spurious_relation': 'spurious relation'}


def error_name(kind: str) -> str:
    return ERROR_NAMES.get(kind, kind.replace('_', ' '))


def error_colour(kind: str) -> Tuple[int, int, int]:
    return ERROR_COLOURS.get(kind, (214, 39, 40))


def type_colour(type_: Optional[str]) -> Tuple[int, int, int]:
    type_ = (type_ or 'OTHER').upper()
    if type_ in TYPE_COLOURS:
        return TYPE_COLOURS[type_]
    return EXTRA_COLOURS[sum(map(ord, type_)) % len(EXTRA_COLOURS)]


def _light(colour, alpha=0.35) -> Tuple[int, int, int]:
    return tuple(int(255 - alpha * (255 - c)) for c in colour)


def _hex(colour) -> str:
    return '#%02x%02x%02x' % tuple(colour)


def char_span(text: str, entity: dict) -> Optional[Tuple[int, int]]:
    """``(start, end)`` of an entity in ``text``: its offsets when they hold its text, else the first
    occurrence of its text; ``None`` when it is not in ``text``."""
    start, end = entity.get('start'), entity.get('end')
    if isinstance(start, int) and isinstance(end, int) and text[start:end] == entity.get('text'):
        return start, end
    found = text.find(entity.get('text') or '\0')
    return (found, found + len(entity['text'])) if found >= 0 else None


def post_from_words(words: Sequence[str], spans: Sequence[Tuple[str, int, int]]) -> Tuple[str, List[dict]]:
    """Words joined with spaces and entities with character offsets from word spans ``(type, start, end)``
    (``end`` exclusive)."""
    starts, pos = [], 0
    for w in words:
        starts.append(pos)
        pos += len(w) + 1
    text = ' '.join(words)
    entities = [dict(text=' '.join(words[s:e]), type=t, start=starts[s], end=starts[e - 1] + len(words[e - 1]))
                for t, s, e in spans]
    return text, entities


def _marked_spans(result: dict, key: str = 'entities') -> List[Tuple[int, int, str, dict]]:
    """``(start, end, colour type, entity)`` to highlight, by start, overlaps dropped."""
    text = result.get('text') or ''
    if key == 'relation':
        items = [(result.get(k), k.upper()) for k in ('head', 'tail') if result.get(k)]
    else:
        items = [(e, e.get('type')) for e in result.get(key) or []]
    spans, last = [], 0
    found = ((s[0], s[1], t, item) for item, t in items for s in [char_span(text, item)] if s)
    for start, end, type_, e in sorted(found):
        if start >= last:
            spans.append((start, end, type_, e))
            last = end
    return spans


def entity_label(e: dict) -> str:
    """``'Kawhi Leonard (PER) 0.98'``."""
    label = f"{e.get('text', '')} ({e.get('type', '?')})"
    return label + (f" {e['score']:.2f}" if isinstance(e.get('score'), (int, float)) else '')


def relation_line(result: dict, arrow: Tuple[str, str] = ('—', '→')) -> str:
    """``'head —relation (0.87)→ tail'`` (``arrow``: the two halves of the arrow)."""
    score = result.get('score')
    p = f' ({score:.2f})' if isinstance(score, (int, float)) else ''
    return f"{result['head']['text']} {arrow[0]}{result.get('relation', '?')}{p}{arrow[1]} {result['tail']['text']}"


def caption_line(result: dict) -> str:
    """What a caption-trained model read beside the post: ``caption (given): ...``, or that it had none."""
    if not result.get('caption'):
        return 'caption: none (ran without the caption segment)'
    return f"caption ({result.get('caption_source') or 'given'}): {result['caption']}"


def result_from_datasample(data_sample, draw_gt: bool = True, draw_pred: bool = True,
                           relations: Optional[Sequence[str]] = None, image=None) -> dict:
    """An MNER or MRE data sample (:class:`~pmu.structures.PMUDataSample`) as a result dict: its gold
    (``gt_tags`` / ``gt_relation``) and predictions (``pred_tags`` / ``pred_relation``, ``pred_scores``
    over ``relations``), as far as it has them and ``draw_gt`` / ``draw_pred`` ask for them. ``image``
    (a path or an RGB array) replaces the sample's ``img_path``."""
    get = data_sample.get
    path = get('img_path') if image is None else image
    has_image = path is not None and (image is not None or get('has_image', True) is not False)
    if get('gt_relation') is not None or get('pred_relation') is not None:
        words = list(get('tokens') or get('words'))  # MRE: spans index the post as given
        text, (head, tail) = post_from_words(words, [('HEAD', *get('head')), ('TAIL', *get('tail'))])
        result = dict(text=text, image=path, has_image=has_image, words=words, head=head, tail=tail)
        pred = get('pred_relation') if draw_pred else None
        scores = get('pred_scores')
        scores = {} if pred is None or scores is None or not relations else dict(
            zip(relations, (float(p) for p in scores)))
        result.update(relation=pred if pred is not None else get('gt_relation'), score=scores.get(pred),
                      scores=scores)
        if pred is not None and draw_gt and get('gt_relation') is not None:
            result['gold_relation'] = get('gt_relation')
        return result
    words = list(get('words'))
    result = dict(text=' '.join(words), image=path, has_image=has_image, words=words)
    if draw_pred and get('pred_tags') is not None:
        result['tags'] = list(get('pred_tags'))
        result['entities'] = post_from_words(words, entity_spans(result['tags']))[1]
    if draw_gt and get('gt_tags') is not None or 'entities' not in result:
        result['gold_entities'] = post_from_words(words, entity_spans(list(get('gt_tags') or [])))[1]
    return result


def _image_name(result: dict) -> str:
    image = result.get('image')
    return image if isinstance(image, str) else ''


def _font(size: int):
    """DejaVu Sans when the system has it (it draws arrows and most scripts), else PIL's own font, whose
    glyphs are Latin only: then arrows are drawn as ``->``."""
    try:
        return ImageFont.truetype('DejaVuSans.ttf', size), ('—', '→')
    except OSError:
        return ImageFont.load_default(size=size), ('-', '->')


_unnamed = itertools.count()


@VISUALIZERS.register_module()
class PostVisualizer(Visualizer):
    """Draws posts: the image with grounded boxes, the text below with entities highlighted.

    An MMEngine ``Visualizer``: :meth:`add_datasample` draws a data sample
    (gold and/or predicted entities or relation) as MMDetection's
    ``DetLocalVisualizer`` does; :meth:`draw_post`, :meth:`write_html` and
    :meth:`post_html` draw result dicts (what the inferencers return).

    ``PostVisualizer()`` makes a private instance; ``VISUALIZERS.build(dict(type='PostVisualizer'))``
    goes through MMEngine's ``get_instance``, which keeps one instance per
    ``name`` (and makes it the current ``Visualizer``): without a ``name`` it
    gets a new, unique one, so two builds never share settings.

    Args:
        name: the instance's name (MMEngine's ``ManagerMixin``).
        width: width of a drawn post in pixels (the image is scaled to it).
        max_image_height: the image is scaled down further to stay below this height.
        font_size: text size in pixels.
        thumbnail_width: width of the images inlined in :meth:`write_html`.
        vis_backends, save_dir: as MMEngine's ``Visualizer``: where
            :meth:`add_datasample` stores a drawing when it is given no ``out_file``.
    """

    def __init__(self, name: str = 'post_visualizer', width: int = 640, max_image_height: int = 480,
                 font_size: int = 15, thumbnail_width: int = 360, vis_backends=None,
                 save_dir: Optional[str] = None):
        super().__init__(name=name, vis_backends=vis_backends, save_dir=save_dir)
        self.post_width = width  # not ``width``: Visualizer.set_image sets that to its image's
        self.max_image_height = max_image_height
        self.font, self.arrow = _font(font_size)
        self.small = _font(max(9, font_size - 3))[0]
        self.line_height = int(font_size * 1.5)
        self.thumbnail_width = thumbnail_width

    @classmethod
    def get_instance(cls, name: Optional[str] = None, **kwargs) -> 'PostVisualizer':
        """MMEngine's instance named ``name``; without one, a new instance under a unique name."""
        if name is None:
            name = f'{cls.__name__}-{os.getpid()}-{next(_unnamed)}'
        return super().get_instance(name, **kwargs)

    def add_datasample(self,
                       name: str,
                       image: Union[np.ndarray, str, None] = None,
                       data_sample=None,
                       draw_gt: bool = True,
                       draw_pred: bool = True,
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       step: int = 0) -> np.ndarray:
        """Draw an MNER or MRE data sample (:func:`result_from_datasample`) with :meth:`draw_post`.

        Args:
            name: the image's name for the visualizer's backends.
            image: the post's image (RGB array or path); ``None``: the
                sample's ``img_path`` (no picture when it has none).
            data_sample: a :class:`~pmu.structures.PMUDataSample` with
                ``words`` and ``gt_tags`` / ``pred_tags`` (MNER) or ``tokens``,
                ``head``, ``tail`` and ``gt_relation`` / ``pred_relation``
                (MRE); the relation inventory for ``pred_scores`` is
                ``dataset_meta['relations']`` when set.
            draw_gt, draw_pred: draw the gold, the prediction.
            show: show the drawing in a window (MMEngine's ``show``).
            out_file: save it there (PNG); else it goes to the backends.
            step: the backends' global step.

        Returns:
            The drawing, an RGB array ``[H, W, 3]``.
        """
        if data_sample is None:
            raise ValueError(f'add_datasample({name!r}): no data_sample to draw')
        relations = (self.dataset_meta or {}).get('relations')
        drawn = self.draw_post(result_from_datasample(data_sample, draw_gt, draw_pred, relations, image))
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
            Image.fromarray(drawn).save(out_file)
        else:
            self.add_image(name, drawn, step)
        return drawn

    # ---- the image -----------------------------------------------------------------------------
    @staticmethod
    def load(result: dict) -> Tuple[Optional[Image.Image], str]:
        """The post's upright image, or ``None`` and why there is none."""
        path = result.get('image')
        if isinstance(path, np.ndarray):  # already loaded (RGB)
            return Image.fromarray(path.astype(np.uint8)).convert('RGB'), ''
        if not path:
            return None, 'no image'
        # the pseudo-label cache's boxes are in stored pixels: its results say upright=False
        loaded = load_image(path, exif_transpose=result.get('upright', True))
        if not loaded.ok:
            return None, f'no image ({osp.basename(path)}: {loaded.status})'
        return loaded.image, ''

    def draw_image(self, result: dict, width: int, max_height: Optional[int] = None) -> Optional[Image.Image]:
        """The post's image scaled to ``width`` with its boxes drawn, or ``None`` without a usable image."""
        img = self.load(result)[0]
        if img is None:
            return None
        scale = width / img.width
        if max_height:
            scale = min(scale, max_height / img.height)
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.BICUBIC)
        draw = ImageDraw.Draw(img)
        boxes = [(o['box'], type_colour('OBJECT'), f"{o['label']} {o['score']:.2f}", 1)
                 for o in result.get('objects') or []]
        for e in result.get('entities') or []:
            region = e.get('region')
            if region:
                label = f"{e['text']} ({e.get('type', '?')}) {region['score']:.2f}"
                boxes.append((region['box'], type_colour(e.get('type')), label, 3))
        stacked = {}  # labels of entities grounded to the same box go one under the other
        for box, colour, label, line in boxes:
            x1, y1, x2, y2 = (v * scale for v in box)
            draw.rectangle((x1, y1, x2, y2), outline=colour, width=line)
            tw, th = self._size(label, self.small)
            key = tuple(round(v) for v in box)
            ty = (y1 - th - 4 if y1 - th - 4 >= 0 else y1) + stacked.get(key, 0) * (th + 5)
            stacked[key] = stacked.get(key, 0) + 1
            draw.rectangle((x1, ty, x1 + tw + 4, ty + th + 4), fill=colour)
            draw.text((x1 + 2, ty + 1), label, fill=(255, 255, 255), font=self.small)
        return img

    @staticmethod
    def _size(text: str, font) -> Tuple[int, int]:
        left, top, right, bottom = font.getbbox(text or ' ')
        return int(right - left), int(bottom - min(top, 0))

    # ---- the text ------------------------------------------------------------------------------
    def _layout(self, draw, text: str, spans, x0: int, y: int, width: int) -> int:
        """Word-wrapped ``text`` with ``spans`` highlighted from ``y``; returns the y below it."""
        pieces, pos = [], 0  # (chunk, colour or None)
        for start, end, type_, _ in spans:
            pieces += [(text[pos:start], None), (text[start:end], type_colour(type_))]
            pos = end
        pieces.append((text[pos:], None))
        x = x0
        for chunk, colour in pieces:
            for word in chunk.replace('\n', ' ').split(' '):
                if not word:
                    x += self._size(' ', self.font)[0] if colour is None else 0
                    continue
                w, _ = self._size(word + ' ', self.font)
                if x + w > x0 + width and x > x0:
                    x, y = x0, y + self.line_height
                if draw is not None:
                    if colour is not None:
                        ww = self._size(word, self.font)[0]
                        draw.rectangle((x - 1, y - 1, x + ww + 1, y + self.line_height - 4), fill=_light(colour))
                        draw.line((x - 1, y + self.line_height - 4, x + ww + 1, y + self.line_height - 4),
                                  fill=colour, width=2)
                    draw.text((x, y), word, fill=(0, 0, 0), font=self.font)
                x += w
        return y + self.line_height

    def _text_lines(self, result: dict) -> List[Tuple[str, object, str]]:
        """What goes under the image: ``(kind, payload, caption)`` rows."""
        if 'head' not in result and 'entities' not in result:  # a dataset's sample: gold annotations only
            rows = [('gold', _marked_spans(result, 'gold_entities'), 'gold:')]
        else:
            # an evaluated post shows its prediction above its gold: say which is which
            caption = 'predicted:' if 'errors' in result and 'head' not in result else ''
            rows = [('text', _marked_spans(result, 'relation' if 'head' in result else 'entities'), caption)]
        if 'head' in result:
            rows.append(('line', relation_line(result, self.arrow), ''))
            if result.get('gold_relation'):
                rows.append(('line', f"gold: {result['gold_relation']}", ''))
            top = sorted((result.get('scores') or {}).items(), key=lambda kv: -kv[1])[:3]
            if top:
                rows.append(('line', 'top: ' + ', '.join(f'{r} {p:.2f}' for r, p in top), ''))
        else:
            # an evaluated post's entities are in its highlighted text and error lines already
            for e in [] if 'errors' in result else result.get('entities') or []:
                region = e.get('region')
                where = (f" {self.arrow[1]} {region['label']} box, score {region['score']:.2f}" if region
                         else (f' {self.arrow[1]} no region' if 'region' in e else ''))
                rows.append(('line', '- ' + entity_label(e) + where, e.get('type')))
            if result.get('gold_entities') is not None and 'entities' in result:
                rows.append(('gold', _marked_spans(result, 'gold_entities'), 'gold:'))
        rows += [('error', e['message'], e['kind']) for e in result.get('errors') or []]
        if result.get('match') is False:
            rows.append(('line', 'mismatched pair: the caption describes another image', 'OBJECT'))
        if 'caption_source' in result:
            rows.append(('line', caption_line(result), 'OBJECT'))
        for i, o in enumerate(result.get('objects') or []):
            soft = o.get('soft_labels')
            if soft:
                rows.append(('line', f"object {i} ({o['label']}): " + ', '.join(f'{v} {p:.2f}' for v, p in soft),
                             'OBJECT'))
        return rows

    def _draw_text(self, draw, result: dict, y: int) -> int:
        pad, width = 10, self.post_width - 20
        for kind, payload, caption in self._text_lines(result):
            if kind in ('text', 'gold'):
                x = pad
                if caption:
                    if draw is not None:
                        draw.text((x, y), caption, fill=(90, 90, 90), font=self.font)
                    x += self._size(caption + ' ', self.font)[0]
                y = self._layout(draw, result.get('text') or '', payload, x, y, width - (x - pad))
            elif kind == 'error':
                y = self._line(draw, f'{error_name(caption)}: {payload}', error_colour(caption), pad, y, width)
            else:
                colour = type_colour(caption) if caption else (0, 0, 0)
                y = self._line(draw, payload, colour, pad, y, width)
        return y

    def _line(self, draw, text, colour, x0, y, width) -> int:
        x = x0
        for word in text.split(' '):
            w, _ = self._size(word + ' ', self.font)
            if x + w > x0 + width and x > x0:
                x, y = x0 + 16, y + self.line_height
            if draw is not None:
                draw.text((x, y), word, fill=colour, font=self.font)
            x += w
        return y + self.line_height

    # ---- public --------------------------------------------------------------------------------
    def draw_post(self, result: dict, out_file: Optional[str] = None) -> np.ndarray:
        """The post as an RGB array ``[H, W, 3]``: image with boxes (or a "no image" panel), then the text
        with entities highlighted, one colour per type; saved to ``out_file`` when given."""
        img = self.draw_image(result, self.post_width, self.max_image_height)
        top = img.height if img is not None else 40
        text_height = self._draw_text(None, result, 0) + 16
        canvas = Image.new('RGB', (self.post_width, top + text_height), (255, 255, 255))
        draw = ImageDraw.Draw(canvas)
        if img is not None:
            canvas.paste(img, ((self.post_width - img.width) // 2, 0))
        else:
            draw.rectangle((0, 0, self.post_width - 1, top - 1), fill=(235, 235, 235))
            draw.text((10, 10), self.load(result)[1], fill=(100, 100, 100), font=self.font)
        self._draw_text(draw, result, top + 8)
        if out_file:
            os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
            canvas.save(out_file)
        return np.asarray(canvas)

    def _html_text(self, text: str, spans, title_of) -> str:
        out, pos = [], 0
        for start, end, type_, e in spans:
            out.append(html.escape(text[pos:start]))
            colour, kind = type_colour(type_), e.get('error')
            # a wrong entity is outlined in its error kind's colour, the kind in its class and title
            err = (f' err-{html.escape(kind)}', f';outline:2px dashed {_hex(error_colour(kind))}',
                   f' [{error_name(kind)}]') if kind else ('', '', '')
            out.append(f'<mark class="t-{html.escape(str(type_))}{err[0]}" style="background:{_hex(_light(colour))};'
                       f'border-bottom:2px solid {_hex(colour)}{err[1]}" '
                       f'title="{html.escape(title_of(e, type_) + err[2])}">'
                       f'{html.escape(text[start:end])}<sub>{html.escape(str(type_))}</sub></mark>')
            pos = end
        out.append(html.escape(text[pos:]))
        return ''.join(out)

    def _thumbnail(self, result: dict) -> Optional[str]:
        img = self.draw_image(result, self.thumbnail_width, self.thumbnail_width)
        if img is None:
            return None
        buf = io.BytesIO()
        img.save(buf, format='JPEG', quality=80)
        return base64.b64encode(buf.getvalue()).decode('ascii')

    def post_html(self, result: dict) -> str:
        """One post as an HTML fragment (image inlined)."""
        text = result.get('text') or ''
        thumb = self._thumbnail(result)
        errors = result.get('errors')
        parts = ['<div class="post">' if errors is None else f'<div class="post" data-errors="{len(errors)}">']
        if thumb:
            parts.append(f'<img src="data:image/jpeg;base64,{thumb}" alt="{html.escape(_image_name(result))}">')
        else:
            parts.append('<div class="noimg">no image</div>')
        parts.append('<div class="body">')
        if 'head' in result:
            parts.append(f'<p>{self._html_text(text, _marked_spans(result, "relation"), lambda e, t: t)}</p>')
            parts.append(f'<p class="rel">{html.escape(relation_line(result))}</p>')
            if result.get('gold_relation'):
                parts.append(f'<p class="gold">gold: {html.escape(result["gold_relation"])}</p>')
            top = sorted((result.get('scores') or {}).items(), key=lambda kv: -kv[1])[:3]
            if top:
                parts.append('<p class="small">' + html.escape(', '.join(f'{r} {p:.2f}' for r, p in top)) + '</p>')
        else:
            def title(e, t):
                region = e.get('region')
                return entity_label(e) + (f" → {region['label']} {region['score']:.2f}" if region else '')
            if 'entities' in result:
                said = 'predicted: ' if errors is not None else ''
                parts.append(f'<p>{said}{self._html_text(text, _marked_spans(result), title)}</p>')
            for e in result.get('entities') or []:
                if 'region' in e:
                    region = e['region']
                    where = f"{region['label']} box {region['box']}, score {region['score']:.2f}" if region \
                        else 'no region'
                    parts.append(f'<p class="small">{html.escape(entity_label(e))} → {html.escape(where)}</p>')
            if result.get('gold_entities') is not None or 'entities' not in result:
                gold = self._html_text(text, _marked_spans(result, 'gold_entities'), lambda e, t: t)
                parts.append(f'<p class="gold">gold: {gold}</p>')
        if errors:
            parts.append('<ul class="errors">' + ''.join(
                f'<li class="err err-{html.escape(e["kind"])}" style="color:{_hex(error_colour(e["kind"]))}">'
                f'<b>{html.escape(error_name(e["kind"]))}</b>: {html.escape(e["message"])}</li>'
                for e in errors) + '</ul>')
        if result.get('match') is False:
            parts.append('<p class="gold">mismatched pair: the caption describes another image</p>')
        if 'caption_source' in result:
            parts.append(f'<p class="small"><i>{html.escape(caption_line(result))}</i></p>')
        if result.get('note'):
            parts.append(f'<p class="small">note: {html.escape(result["note"])}</p>')
        objects = result.get('objects') or []
        if objects:
            rows = ''.join(
                f"<tr><td>{i}</td><td>{html.escape(o['label'])}</td><td>{o['score']:.2f}</td>"
                f"<td>{html.escape(', '.join(f'{v} {p:.2f}' for v, p in o.get('soft_labels') or []))}</td></tr>"
                for i, o in enumerate(objects))
            parts.append('<table class="small"><tr><th>#</th><th>object</th><th>score</th>'
                         f'<th>teacher soft labels (top)</th></tr>{rows}</table>')
        parts.append(f'<p class="path">{html.escape(_image_name(result))}</p></div></div>')
        return ''.join(parts)

    def write_html(self, results: Sequence[dict], out_file: str, title: str = 'pmu posts', intro: str = '') -> str:
        """A self-contained HTML page of ``results`` (images inlined as base64 JPEG thumbnails, entities as
        ``<mark>`` per type, relations as ``head —relation (p)→ tail``), ``intro`` (HTML) above the posts;
        returns ``out_file``."""
        return self.write_page([self.post_html(r) for r in results], out_file, title, intro)

    def write_page(self, posts: Sequence[str], out_file: str, title: str = 'pmu posts', intro: str = '') -> str:
        """:meth:`write_html` from posts already made into HTML by :meth:`post_html` (two pages of the same
        posts draw each image once)."""
        legend = ''.join(f'<mark style="background:{_hex(_light(c))};border-bottom:2px solid {_hex(c)}">{t}</mark> '
                         for t, c in TYPE_COLOURS.items() if t not in ('OTHER', 'OBJECT'))
        page = ['<!DOCTYPE html><html><head><meta charset="utf-8">', f'<title>{html.escape(title)}</title>',
                '<style>body{font-family:sans-serif;margin:16px}.post{display:flex;gap:12px;border-bottom:1px solid '
                '#ddd;padding:8px 0}.post img{max-width:%dpx}.noimg{width:%dpx;height:60px;background:#eee;'
                'color:#666;display:flex;align-items:center;justify-content:center}.body{flex:1}mark sub{font-size:'
                '60%%;color:#444}.small{font-size:85%%;color:#333}.gold{color:#555}.rel{font-weight:bold}.path{'
                'font-size:70%%;color:#999}table{border-collapse:collapse}td,th{padding:1px 6px;text-align:left}'
                'ul.errors{margin:4px 0;padding-left:18px}table.confusion td{text-align:right}'
                'table.confusion td.zero{color:#ccc}table.confusion td.diag{font-weight:bold}'
                '</style></head><body>' % (self.thumbnail_width, self.thumbnail_width),
                f'<h2>{html.escape(title)}</h2>{intro}<p>{len(posts)} posts. {legend}</p>']
        page += list(posts)
        page.append('</body></html>')
        os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
        with open(out_file, 'w', encoding='utf-8') as f:
            f.write('\n'.join(page))
        return out_file
