"""What the MNER and MRE inferencers share: the model from a config and weights, inputs, outputs."""
import json
import os
import os.path as osp
from typing import Any, Iterable, List, Optional, Sequence, Union

import numpy as np
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.infer import BaseInferencer
from mmengine.logging import MMLogger

from pmu.registry import MODELS
from pmu.utils.checkpoint import load_mapped_checkpoint, resolve_checkpoint
from pmu.utils.progress import LoopProgress
from pmu.visualization import PostVisualizer
from .tokenizer import PostTokenizer, style_of_config


class PostInferencer(BaseInferencer):
    """Config + weights → a model that reads new posts (text and an optional image).

    Args:
        model: config file or ``Config`` (completed here with
            :func:`pmu.apis.config.complete_config`).
        weights: a checkpoint file or a work dir (its newest ``best_*.pth``,
            else its last checkpoint: :func:`pmu.utils.checkpoint.resolve_checkpoint`). ``None`` is
            refused unless ``random_weights=True``: an untrained model's
            predictions mean nothing.
        device: e.g. ``'cpu'``, ``'cuda:0'``.
        strict: the checkpoint must hold exactly the model's tensors. With
            ``False``, what is missing or left over is logged and the rest loads.
        random_weights: run without weights (tests, throughput); results say so.
        tokenizer_style: how new posts are split into words; by default the
            style of the config's training data (:mod:`.tokenizer`).
        show_progress: report progress when a call has several batches (a bar on a terminal,
            log lines about every 10 % in a pipe or file).
        captioner: for a model trained with captions (its test dataset has a
            caption source, :mod:`pmu.datasets.captions`): what writes the
            caption of a post that has an image and no ``caption``, e.g.
            ``dict(type='HFCaptioner', name_or_path='Salesforce/blip-image-captioning-base')``
            (:class:`pmu.models.HFCaptioner`) or any callable ``image paths ->
            captions``. ``None``: such a post runs without the caption segment,
            and its result says so.
    """
    task = ''

    def __init__(self,
                 model: Union[str, Config],
                 weights: Optional[str] = None,
                 device: str = 'cpu',
                 strict: bool = True,
                 random_weights: bool = False,
                 tokenizer_style: Optional[str] = None,
                 show_progress: bool = True,
                 captioner=None):
        if weights is None and not random_weights:
            raise ValueError('no weights given: pass a checkpoint file or work dir, or '
                             'random_weights=True to run an untrained model (its predictions are '
                             'meaningless)')
        self.strict = strict
        self.random_weights = weights is None
        from pmu.utils import register_all_modules
        register_all_modules()
        if isinstance(model, str) and not osp.isfile(model):
            raise FileNotFoundError(f'config {model} not found')
        super().__init__(model=model, weights=weights, device=device, show_progress=show_progress)
        style = tokenizer_style or style_of_config(self.cfg) or 'twitter2017'
        self.post_tokenizer = PostTokenizer(style)
        self.captioner = MODELS.build(captioner) if isinstance(captioner, dict) else captioner

    @property
    def logger(self) -> MMLogger:
        return MMLogger.get_current_instance()

    # -- construction (called by BaseInferencer.__init__) --------------------------------------
    def _init_model(self, cfg: Config, weights: Optional[str], device: str = 'cpu'):
        from pmu.apis.config import complete_config
        complete_config(cfg)
        model_type = cfg.model.get('type')
        if model_type != self.model_type:
            raise ValueError(f'{type(self).__name__} runs {self.model_type} configs; this config\'s '
                             f'model.type is {model_type!r} (pmu.apis.PMUInferencer picks the task)')
        # weights replace everything, a pre-training initialisation included
        cfg.model.pop('pretrained', None)
        model = MODELS.build(cfg.model)
        if weights is None:
            model.init_weights()
            self.logger.warning(f'{type(self).__name__}: no weights, the model is untrained '
                                '(random_weights=True): predictions are meaningless')
            self.weights = None
        else:
            self.weights = resolve_checkpoint(weights, prefer_best=True)
            result = load_mapped_checkpoint(model, self.weights, strict=self.strict, logger=self.logger)
            if not self.strict and (result.missing_keys or result.unexpected_keys):
                self.logger.warning(
                    f'{self.weights} loaded with strict=False: {len(result.missing_keys)} tensors '
                    f'missing (left as built), {len(result.unexpected_keys)} unexpected (ignored)')
        model.cfg = cfg
        return model.to(device).eval()

    def _init_pipeline(self, cfg: Config):
        pipeline = cfg.test_dataloader.dataset.pipeline
        self.max_length = next((t['max_length'] for t in pipeline if t['type'] == 'TokenizeWords'),
                               cfg.get('max_length', 128))
        self.uses_images = any(t['type'] == 'LoadImage' for t in pipeline)
        # a model trained with captions reads one beside each post (its test dataset names their source)
        self.uses_captions = bool(cfg.test_dataloader.dataset.get('captions'))
        return Compose(pipeline)

    def _init_collate(self, cfg: Config):
        # pmu's loaders collate with pseudo_collate and let the model's data preprocessor pad
        return pseudo_collate

    def _init_visualizer(self, cfg) -> PostVisualizer:
        # constructed, not built: a private instance, neither MMEngine's current Visualizer nor
        # one that another inferencer's name could clash with
        return PostVisualizer(name=f'{type(self).__name__}-{id(self)}')

    # -- inputs -------------------------------------------------------------------------------
    def _inputs_to_list(self, inputs) -> List[dict]:
        """A string, a dict, a list of those, or a JSONL file → checked dicts."""
        if is_jsonl_path(inputs):
            return [self._check_input(item, f'{inputs}:{line}')
                    for line, item in read_jsonl(inputs)]
        if isinstance(inputs, (str, dict)):
            inputs = [inputs]
        if not isinstance(inputs, (list, tuple)):
            raise TypeError(f'inputs must be a string, a dict, a list of those or a .jsonl file, '
                            f'got {type(inputs).__name__}')
        return [self._check_input(item, f'inputs[{i}]') for i, item in enumerate(inputs)]

    def _check_input(self, item: Any, where: str) -> dict:
        if isinstance(item, str):
            item = dict(text=item)
        if not isinstance(item, dict):
            raise ValueError(f'{where}: expected a string or a dict with "text", got '
                             f'{type(item).__name__}')
        text = item.get('text')
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f'{where}: "text" must be a non-empty string, got {text!r}')
        image = item.get('image')
        if image is not None and not isinstance(image, str):
            raise ValueError(f'{where}: "image" must be a path or null, got {image!r}')
        caption = item.get('caption')
        if caption is not None and not isinstance(caption, str):
            raise ValueError(f'{where}: "caption" must be a string or null, got {caption!r}')
        item = dict(item, where=where)
        if caption is not None and not caption.strip():
            item['caption'] = None
        item['caption_source'] = 'given' if item.get('caption') else None
        return item

    def write_captions(self, items: List[dict]) -> None:
        """Caption, with the captioner, each post that has an image and no caption (models trained
        with captions only; one batch for all of them)."""
        if not (self.uses_captions and self.captioner is not None):
            return
        todo = [item for item in items if not item.get('caption') and item.get('image')]
        if not todo:
            return
        for item, caption in zip(todo, self.captioner([item['image'] for item in todo])):
            if caption:
                item['caption'], item['caption_source'] = caption, 'captioner'

    def caption_of(self, item: dict) -> Optional[str]:
        """The caption the model reads for ``item`` (``None``: none, or the model does not read one)."""
        return item.get('caption') if self.uses_captions else None

    def caption_fields(self, item: dict) -> dict:
        """What a result says of the caption: the text the model read and where it came from."""
        if not (self.uses_captions or item.get('caption')):
            return {}
        return dict(caption=item.get('caption'), caption_source=item.get('caption_source'))

    # -- the call: BaseInferencer's stages ------------------------------------------------------
    def __call__(self,
                 inputs,
                 batch_size: int = 1,
                 out_dir: Optional[str] = None,
                 show_progress: Optional[bool] = None,
                 pictures: bool = True) -> Union[dict, List[dict]]:
        """Predict; one JSON-ready dict per post (a list, or one dict for one string/dict input).

        The stages of MMEngine's ``BaseInferencer``: the inputs are checked and
        split into words (:meth:`prepare`: one model sample per post, or per
        window of a long MNER post), :meth:`preprocess` runs the test pipeline
        and collates them, :meth:`forward` runs the model's ``test_step``
        (its ``predict``), :meth:`merge` makes one prediction per post from
        its samples, :meth:`visualize` draws them and :meth:`postprocess`
        writes and returns them.

        Args:
            inputs: a string, a dict (``text``, ``image``, and for MRE ``head``
                and ``tail``), a list of those, or a ``.jsonl`` file of dicts.
            batch_size: samples per forward pass.
            out_dir: also write ``predictions.jsonl`` there (one line per
                input) and, with ``pictures``, ``vis/<i>.png`` and
                ``predictions.html`` (:class:`~pmu.visualization.PostVisualizer`).
            show_progress: report progress (a bar on a terminal, log lines about every 10 % in a pipe
                or file); default: the constructor's.
        """
        single = isinstance(inputs, dict) or (isinstance(inputs, str) and not is_jsonl_path(inputs))
        items = self._inputs_to_list(inputs)
        self.write_captions(items)
        posts = [self.prepare(item) for item in items]
        samples = []
        for data in self.preprocess(posts, batch_size=batch_size, show_progress=show_progress):
            samples.extend(self.forward(data))
        preds = self.merge(posts, samples)
        visualization = self.visualize(posts, preds, out_dir=out_dir if pictures else None)
        results = self.postprocess(preds, visualization, out_dir=out_dir)
        return results[0] if single else results

    # subclasses: one post → {'item', 'samples': [pipeline inputs], ...}; its data samples → result
    def prepare(self, item: dict) -> dict:
        raise NotImplementedError

    def make_result(self, post: dict, samples: List[Any]) -> dict:
        raise NotImplementedError

    def preprocess(self, inputs: List[dict], batch_size: int = 1, show_progress: Optional[bool] = None):
        """The test pipeline and collate over the samples of prepared posts, ``batch_size`` samples a batch."""
        samples = [s for post in inputs for s in post['samples']]
        num_batches = -(-len(samples) // batch_size)
        progress = self.show_progress if show_progress is None else show_progress
        # a bar on a terminal, ~10 log lines in a pipe or file (no carriage returns there)
        bar = (LoopProgress(num_batches, f'{self.task or "infer"} posts')
               if progress and num_batches > 1 else None)
        try:
            for chunk in self._get_chunk_data((self.pipeline(dict(s)) for s in samples), batch_size):
                yield self.collate_fn(chunk)
                if bar is not None:  # the batch has been through forward
                    bar.update()
        finally:
            if bar is not None:
                bar.close()

    def merge(self, posts: List[dict], samples: List[Any]) -> List[dict]:
        """One prediction per post (:meth:`make_result`) from the data samples :meth:`forward` returned."""
        results, k = [], 0
        for post in posts:
            n = len(post['samples'])
            results.append(self.make_result(post, samples[k:k + n]))
            k += n
        return self.mark_random(results)

    def mark_random(self, results: List[dict]) -> List[dict]:
        if self.random_weights:
            for r in results:
                r['weights'] = 'random (untrained model: predictions are meaningless)'
        return results

    def visualize(self, inputs: List[dict], preds: List[dict], out_dir: Optional[str] = None,
                  **kwargs) -> Optional[List[np.ndarray]]:
        """With ``out_dir``: each post drawn into ``vis/<i>.png`` (the arrays are returned) and all of them
        into ``predictions.html``."""
        if not out_dir:
            return None
        drawn = [self.visualizer.draw_post(r, osp.join(out_dir, 'vis', f'{i}.png')) for i, r in enumerate(preds)]
        self.visualizer.write_html(preds, osp.join(out_dir, 'predictions.html'))
        return drawn

    def postprocess(self, preds: List[dict], visualization: Optional[List[np.ndarray]] = None,
                    out_dir: Optional[str] = None, **kwargs) -> List[dict]:
        """The results; with ``out_dir``, also ``predictions.jsonl`` there (one line per post)."""
        if out_dir:
            os.makedirs(out_dir, exist_ok=True)
            with open(osp.join(out_dir, 'predictions.jsonl'), 'w', encoding='utf-8') as f:
                for r in preds:
                    f.write(json.dumps(r, ensure_ascii=False) + '\n')
        return preds

    def image_note(self, image: Optional[str], has_image: bool) -> Optional[str]:
        """Why a post ran text-only, if it did."""
        if has_image:
            return None
        if not self.uses_images:
            return ('the model is text-only: image not used' if image
                    else None)
        if image is None:
            return 'no image given: ran text-only'
        return f'image {image} missing or unreadable: ran text-only'

    def caption_note(self, item: dict) -> Optional[str]:
        """Why a post ran without the caption segment its model was trained with, or why a given
        caption was not read."""
        if not self.uses_captions:
            return 'the model was trained without captions: caption not used' if item.get('caption') else None
        if item.get('caption'):
            return None
        if not item.get('image'):
            return 'no caption and no image given: ran on the post alone'
        if self.captioner is None:
            return 'no caption given and no captioner: ran without the caption segment'
        return f'the captioner wrote no caption for {item["image"]}: ran without the caption segment'

    def notes(self, item: dict, has_image: bool) -> Optional[str]:
        """The image's and the caption's notes, joined."""
        notes = [n for n in (self.image_note(item.get('image'), has_image), self.caption_note(item)) if n]
        return '; '.join(notes) or None


def is_jsonl_path(inputs) -> bool:
    """A string naming a ``.jsonl`` file rather than being a post's text."""
    return (isinstance(inputs, str) and inputs.endswith('.jsonl')
            and not any(c.isspace() for c in inputs))


def read_jsonl(path: str) -> Iterable:
    """``(line number, dict)`` per non-blank line; a bad line raises naming ``path:line``."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'input file {path} not found')
    with open(path, encoding='utf-8') as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f'{path}:{line_no}: not valid JSON ({e.msg})') from None
            if not isinstance(item, dict):
                raise ValueError(f'{path}:{line_no}: expected a JSON object with "text", got '
                                 f'{type(item).__name__}')
            yield line_no, item


def word_span(offsets: Sequence, start: int, end: int, where: str, what: str):
    """The words ``[ws, we)`` that characters ``[start, end)`` touch."""
    touched = [k for k, (_, s, e) in enumerate(offsets) if s < end and e > start]
    if not touched:
        raise ValueError(f'{where}: {what} span [{start}, {end}) covers no word of the text')
    return touched[0], touched[-1] + 1


def char_span(text: str, spec, where: str, what: str):
    """``spec``: an entity string (its first occurrence), ``{'start', 'end'}`` or ``[start, end]``."""
    if isinstance(spec, str):
        start = text.find(spec)
        if not spec.strip() or start < 0:
            raise ValueError(f'{where}: {what} {spec!r} does not occur in the text')
        return start, start + len(spec)
    if isinstance(spec, dict) and {'start', 'end'} <= set(spec):
        start, end = spec['start'], spec['end']
    elif isinstance(spec, (list, tuple)) and len(spec) == 2:
        start, end = spec
    else:
        raise ValueError(f'{where}: {what} must be an entity string, {{"start", "end"}} or '
                         f'[start, end], got {spec!r}')
    if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
        raise ValueError(f'{where}: {what} span [{start}, {end}) is not inside the text '
                         f'({len(text)} characters)')
    return start, end


