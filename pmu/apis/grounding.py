"""Grounded entities: each entity of a post gets the detected image region that PROMU aligns it with.

The PROMU student learned object-entity alignment (COE): the fused visual grid
of an image-text forward, pooled over an object's box, predicts the teacher's
distribution over the entity vocabulary. :class:`EntityGrounder` uses exactly
that path to rank the regions of a new image for an entity:

1. **Prompt.** The entity becomes a phrase, its text followed by a type word
   (``PER`` → ``'Kawhi Leonard, a person'``; ``LOC`` → ``'..., a place'``;
   ``ORG`` → ``'..., an organization'``; ``MISC``/``OTHER`` and unknown types
   → the text alone), filled into the student's entity templates
   (``model.pseudo_labels.entity_templates``, PROMU's ``'This is an image of
   {}.'``, ``'An image of {} is shown here'``).
2. **The prompt's entity distribution** ``q``: the prompts' ITC text feature
   (averaged over the templates) against the prompt features of the entity
   vocabulary, ``softmax(sim / tau)`` with the student's label temperature:
   the same kind of distribution the teacher gave the regions in pre-training.
3. **Each region's entity distribution** ``p``: each prompt is fused with the
   image (PROMU's fusion), the fused visual grid is pooled over the region's
   box (cells weighted by overlap, as in COE) and the COE head gives
   probabilities over the entity vocabulary (averaged over the templates).
4. **Score** = the Bhattacharyya coefficient ``sum_v sqrt(p_v * q_v)``, in
   ``[0, 1]``: 1 when the region and the prompt put the same mass on the same
   vocabulary entries, 0 when they share none. Regions are ranked by it; the
   best is returned when its score reaches ``threshold``, else ``None``.

Regions are the boxes of an object detector (by default the ONNX CenterNet of
``configs/prepare/prepare_onnx-centernet_spacy_coco-mini.py``) run on the
upright image as :func:`pmu.utils.image.load_image` returns it; boxes are in
that image's pixels.
"""
import glob
import os.path as osp
from collections import Counter
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.logging import MMLogger
from PIL import Image

from pmu.models.pretrainers.alignment import box_grid_weights, grid_shape
from pmu.pseudo_labels import ImageInput, encode_vocabulary, read_vocabulary
from pmu.pseudo_labels.soft_labeler import build_with_weights
from pmu.registry import DETECTORS, PROMPTS
from pmu.utils.checkpoint import resolve_checkpoint
from pmu.utils.config_path import get_config_path
from pmu.utils.image import load_image

#: the word appended to an entity's text for its type; ``None``: the text alone
TYPE_WORDS: Dict[str, Optional[str]] = {
    'PER': 'person', 'LOC': 'place', 'ORG': 'organization', 'MISC': None, 'OTHER': None}
DEFAULT_DETECTOR_CONFIG = 'prepare/prepare_onnx-centernet_spacy_coco-mini.py'


def entity_phrase(text: str, type_: Optional[str], type_words: Dict[str, Optional[str]] = TYPE_WORDS) -> str:
    """``'Kawhi Leonard'``, ``'PER'`` → ``'Kawhi Leonard, a person'``; types without a word: the text."""
    word = type_words.get((type_ or '').upper())
    if not word:
        return text
    article = 'an' if word[0].lower() in 'aeiou' else 'a'
    return f'{text}, {article} {word}'


def find_pretrain_config(checkpoint_or_dir: str) -> str:
    """The config a pre-training run dumped into its work dir (the one ``*.py`` file there or next to the
    checkpoint file)."""
    folder = checkpoint_or_dir if osp.isdir(checkpoint_or_dir) else osp.dirname(osp.abspath(checkpoint_or_dir))
    found = sorted(glob.glob(osp.join(folder, '*.py')))
    if len(found) != 1:
        raise FileNotFoundError(
            f'{folder}: expected the one config a training run dumps there (*.py), found {len(found)} '
            f'({[osp.basename(p) for p in found]}); pass config= explicitly')
    return found[0]


def build_detector(detector: Union[None, dict, object]):
    """``None``: the detector section of :data:`DEFAULT_DETECTOR_CONFIG`; a dict: a DETECTORS config; else
    an already built detector (a callable over :class:`~pmu.pseudo_labels.ImageInput` lists)."""
    if detector is None:
        detector = dict(Config.fromfile(get_config_path(DEFAULT_DETECTOR_CONFIG)).detector)
    if isinstance(detector, dict):
        return DETECTORS.build(detector)
    return detector


def _student_model(config: str, checkpoint: str):
    from pmu.apis.config import complete_config
    cfg = complete_config(Config.fromfile(config))
    model = build_with_weights(cfg.model, checkpoint)
    missing = [name for name in ('coe_head', 'fusion', 'text_proj') if getattr(model, name, None) is None]
    if missing:
        raise ValueError(f'{config}: grounding needs a PROMU student with COE, a fusion and ITC features; '
                         f'model.{", model.".join(missing)} is None')
    if not isinstance(model.entity_vocab, str):
        raise ValueError(f'{config}: model.entity_vocab must be the vocabulary file (the entries are '
                         f'needed for the prompts), not {model.entity_vocab!r}')
    return cfg, model.eval()


class EntityGrounder:
    """Entity → the detected region PROMU's student aligns it with best (see the module docstring).

    >>> grounder = EntityGrounder('work_dirs/promu_minilm-effnet_coco-mini')
    >>> grounder.ground('post.jpg', [{'text': 'Kawhi Leonard', 'type': 'PER'}])
    [{'box': [12.0, 30.5, 200.1, 380.0], 'label': 'person', 'detector_score': 0.71, 'score': 0.64}]

    Args:
        pretrain_checkpoint: the student's work dir (its last checkpoint) or a checkpoint file.
        config: the student's config; default: the config dumped in the work dir.
        detector: ``None`` (the ONNX detector of :data:`DEFAULT_DETECTOR_CONFIG`), a DETECTORS config
            dict, or a built detector.
        threshold: smallest score (``[0, 1]``) of a returned region; below it the entity gets ``None``.
        device: where the student runs.
        type_words: entity type → the word of the prompt (default :data:`TYPE_WORDS`).
        tau: temperature of the prompt's distribution ``q``; default: the student's label temperature
            (``model.pseudo_labels.tau``), the one its COE targets were made with.
    """

    def __init__(self,
                 pretrain_checkpoint: str,
                 config: Optional[str] = None,
                 detector: Union[None, dict, object] = None,
                 threshold: float = 0.05,
                 device: str = 'cpu',
                 type_words: Optional[Dict[str, Optional[str]]] = None,
                 tau: Optional[float] = None):
        from pmu.utils import register_all_modules
        register_all_modules()
        self.checkpoint = resolve_checkpoint(pretrain_checkpoint)
        self.config = config or find_pretrain_config(pretrain_checkpoint)
        cfg, model = _student_model(self.config, self.checkpoint)
        self.model = model.to(device)
        self.device = device
        self.threshold = threshold
        self.type_words = dict(TYPE_WORDS, **(type_words or {}))
        self.image_size = tuple(cfg.get('image_size', (224, 224)))  # (w, h) of the student's input
        self.templates = PROMPTS.build(dict(model.pseudo_labels['entity_templates']))
        tau = model.pseudo_labels['tau'] if tau is None else tau
        if tau == 'teacher':  # the student's own ITC temperature stands in for the teacher's
            lo, hi = model.itc_loss.temperature_range
            tau = float(model.itc_loss.temp.detach().clamp(lo, hi))
        self.tau = float(tau)
        self.vocabulary = read_vocabulary(model.entity_vocab)
        self.vocab_features = encode_vocabulary(self.vocabulary, self.templates, model.encode_text,
                                                encoder_id=f'student:{osp.abspath(self.checkpoint)}').to(device)
        self.detector = build_detector(detector)
        self._image_cache = (None, None)  # (path, (image size, detections, visual tokens)) of the last image
        self.class_names = tuple(getattr(self.detector, 'class_names', ()))

    # ---- the two sides -------------------------------------------------------------------------
    def prompts(self, entity: dict) -> List[str]:
        """The sentences of an entity: its phrase (:func:`entity_phrase`) in every template."""
        return self.templates.fill(entity_phrase(entity['text'], entity.get('type'), self.type_words))

    def _image(self, image_path: str):
        """``(width, height)``, detections and visual tokens ``[1, T, C]`` of the upright image, or
        ``None`` and the reason it cannot be used."""
        if self._image_cache[0] == image_path:
            return self._image_cache[1], None
        loaded = load_image(image_path)
        if not loaded.ok:
            return None, f'{loaded.status}: {loaded.reason}'
        img = loaded.image
        detections = self.detector([ImageInput(image_path, img.width, img.height, img)])[0]
        pre = self.model.data_preprocessor
        x = torch.from_numpy(np.asarray(img.resize(self.image_size, Image.BICUBIC), np.float32))
        x = ((x.permute(2, 0, 1)[None] - pre.mean.cpu()) / pre.std.cpu()).to(self.device)
        with torch.no_grad():
            visual = self.model.visual_encoder(x)
        self.class_names = detections.class_names
        value = ((img.width, img.height), detections, visual)
        self._image_cache = (image_path, value)
        return value, None

    @torch.no_grad()
    def score_regions(self, image_path: str, entities: Sequence[dict]) -> List[List[dict]]:
        """Every detected region for every entity, best score first (``[]`` for all when the image
        cannot be read or nothing is detected)."""
        logger = MMLogger.get_current_instance()
        for i, e in enumerate(entities):
            if not isinstance(e, dict) or not e.get('text'):
                raise ValueError(f"entities[{i}]: a dict with a non-empty 'text' (and a 'type') is needed, "
                                 f'got {e!r}')
        if not entities:
            return []
        image, reason = self._image(image_path)
        if image is None:
            logger.warning(f'grounding: image {image_path!r} not used ({reason}); '
                           f'{len(entities)} entities get no region')
            return [[] for _ in entities]
        (W, H), det, visual = image
        if not len(det):
            logger.info(f'grounding: no object detected in {image_path}; {len(entities)} entities get no region')
            return [[] for _ in entities]
        model, n_t = self.model, len(self.templates.templates)
        sentences = [s for e in entities for s in self.prompts(e)]  # entity-major
        enc = model.text_encoder.tokenizer(sentences, padding=True, truncation=True, max_length=model.max_length,
                                           return_tensors='pt')
        ids, mask = enc['input_ids'].to(self.device), enc['attention_mask'].to(self.device)
        # q: the prompts' entity distribution (ITC feature vs the vocabulary's prompt features)
        text_feat = model.text_features(ids, mask)[1].view(len(entities), n_t, -1).mean(1)
        q = F.softmax(F.normalize(text_feat, dim=-1) @ self.vocab_features.t() / self.tau, dim=-1)  # [E, V]
        # p: each region's entity distribution from the prompt's fused forward with the image (COE)
        lower = model.fusion.encode_text(model.text_encoder, ids, mask)
        n = len(sentences)
        fused = model.fusion.fuse(model.text_encoder, lower, mask, visual.expand(n, -1, -1),
                                  torch.ones(n, dtype=torch.bool, device=self.device))
        grid = fused.visual[:, 1:]  # [n, h*w, D]
        w_in, h_in = self.image_size
        scale = torch.tensor([w_in / W, h_in / H, w_in / W, h_in / H])
        boxes = torch.from_numpy(det.boxes) * scale
        weights = box_grid_weights(boxes, (h_in, w_in), grid_shape(grid.shape[1], (h_in, w_in)))
        regions = torch.einsum('kt,ntd->nkd', weights.to(self.device, grid.dtype), grid)
        p = model.coe_head.predict(regions).view(len(entities), n_t, len(det), -1).mean(1)  # [E, K, V]
        scores = (p * q[:, None]).clamp(min=0).sqrt().sum(-1).clamp(max=1.0)  # [E, K]
        scores = scores * (weights.sum(-1) > 0).to(scores)[None].to(self.device)  # a box covering no cell
        out = []
        for row in scores.cpu():
            order = torch.argsort(row, descending=True, stable=True).tolist()
            out.append([dict(box=[round(float(v), 2) for v in det.boxes[k]], label=det.class_names[det.labels[k]],
                             detector_score=round(float(det.scores[k]), 4), score=round(float(row[k]), 4))
                        for k in order])
        return out

    def ground(self, image_path: str, entities: Sequence[dict]) -> List[Optional[dict]]:
        """The best region of each entity: ``{'box': [x1, y1, x2, y2], 'label', 'detector_score',
        'score'}``, or ``None`` when no region reaches ``threshold`` (or the image cannot be used)."""
        ranked = self.score_regions(image_path, entities)
        return [r[0] if r and r[0]['score'] >= self.threshold else None for r in ranked]

    def ground_result(self, result: dict) -> dict:
        """An inferencer result (``'image'``, ``'entities'``) with ``'region'`` set on each entity."""
        entities = result.get('entities') or []
        regions = self.ground(result.get('image'), entities) if result.get('image') else [None] * len(entities)
        if not result.get('image') and entities:
            MMLogger.get_current_instance().info('grounding: the post has no image; its entities get no region')
        return dict(result, entities=[dict(e, region=r) for e, r in zip(entities, regions)])


# ---- measuring it on captions ------------------------------------------------------------------
#: caption words that name the detector's ``person`` class
PERSON_WORDS = frozenset(
    'person people man men woman women boy boys girl girls child children kid kids guy guys lady ladies '
    'player players skier skiers surfer surfers skateboarder snowboarder rider riders baby'.split())


def target_class(head: str, class_names: Sequence[str]) -> Optional[str]:
    """The detector class an entity's (lemmatised) head word names: a class whose last word it is, or
    ``person`` for :data:`PERSON_WORDS`; ``None`` when it names none."""
    head = head.lower()
    if head in PERSON_WORDS and 'person' in class_names:
        return 'person'
    for name in class_names:
        if name.split()[-1] == head:
            return name
    return None


def evaluate_grounding(grounder: EntityGrounder, pairs_file: str, image_filter: Optional[str] = '/val2017/',
                       limit: Optional[int] = None, progress: bool = True) -> dict:
    """How often the grounded box's class is the class an entity's head word names, on cached captions.

    ``pairs_file``: a pseudo-label cache's ``pairs.jsonl`` (matched pairs whose image path contains
    ``image_filter``; at most ``limit`` of them). Counted: each caption's distinct entity head words
    (``norm``'s last word) that name a detector class (:func:`target_class`) that the detector found in
    the image, so that some box is right. ``accuracy``: the top-scored region's class is it (threshold
    ignored); ``baseline_accuracy``: the highest-confidence box's class is it; ``random_accuracy``: the
    expected accuracy of a box drawn uniformly among the detections; ``grounded_share``: share
    of those entities whose best score reaches the grounder's threshold; ``not_in_image``: entities
    naming a class the detector did not find (left out).
    """
    from pmu.structures.pretrain_record import read_pair_records
    from pmu.utils.progress import track
    records = [r for r in read_pair_records(pairs_file)
               if r.match and (not image_filter or image_filter in r.image)][:limit]
    n = Counter()
    for r in track(records, 'grounding', unit='pair', enabled=progress):
        path = r.image if osp.isabs(r.image) else osp.abspath(r.image)
        heads = {}
        for e in r.entities:
            words = (e.norm or e.text).split()
            if words:
                heads.setdefault(words[-1], e)
        ranked = grounder.score_regions(path, [dict(text=e.text, type='OTHER') for e in heads.values()])
        for (head, _), regions in zip(heads.items(), ranked):
            if not regions:
                continue
            names = {reg['label'] for reg in regions}
            target = target_class(head, grounder.class_names)
            if target is None:
                continue
            if target not in names:
                n['not_in_image'] += 1
                continue
            n['entities'] += 1
            n['hits'] += regions[0]['label'] == target
            n['baseline_hits'] += max(regions, key=lambda reg: reg['detector_score'])['label'] == target
            n['grounded'] += regions[0]['score'] >= grounder.threshold
            n['random_hits'] += sum(reg['label'] == target for reg in regions) / len(regions)
    total = max(n['entities'], 1)
    return dict(pairs=len(records), entities=n['entities'], accuracy=n['hits'] / total,
                baseline_accuracy=n['baseline_hits'] / total, random_accuracy=n['random_hits'] / total,
                grounded_share=n['grounded'] / total,
                not_in_image=n['not_in_image'], threshold=grounder.threshold)
