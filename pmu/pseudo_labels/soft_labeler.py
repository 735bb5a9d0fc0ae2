"""The teacher (prompter) labels images: soft pseudo-labels over the entity and relation vocabularies.

:class:`SoftPromptLabeler` is what ``SoftLabelHook`` runs before the student
trains, and what ``tools/pretrain_eval.py --agreement`` builds on; it lives in
the library (the pseudo-label layer, above the models it builds and below the
engine) so that it can be used and tested without a runner.
"""
import hashlib
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dist import barrier, get_rank, is_main_process
from mmengine.logging import MMLogger
from PIL import Image

from pmu.models.pretrainers.alignment import DEFAULT_PSEUDO_LABELS, soft_pseudo_labels
from pmu.registry import MODELS, PROMPTS
from pmu.utils.checkpoint import load_checkpoint_file, resolve_checkpoint
from pmu.utils.image import load_image
from pmu.utils.progress import LoopProgress
from .prompts import encode_vocabulary
from .vocabulary import read_vocabulary


def build_with_weights(model_cfg: dict, checkpoint_file: str):
    """``MODELS.build(model_cfg)`` with every tensor from ``checkpoint_file`` (all keys must match); the
    encoders' own pretrained weights are not loaded first, since the checkpoint brings them."""
    model_cfg = dict(model_cfg)
    for key in ('text_encoder', 'visual_encoder'):
        if model_cfg[key].get('type') in ('HFTextEncoder', 'HFVisionEncoder'):
            model_cfg[key] = dict(model_cfg[key], pretrained=False)
    model = MODELS.build(model_cfg)
    state = load_checkpoint_file(checkpoint_file)
    model.load_state_dict(state.get('state_dict', state), strict=True)
    return model


def build_teacher(config: str, checkpoint: str):
    """The teacher model of ``config`` with the weights of ``checkpoint`` (a file or a work dir; all keys
    must match)."""
    checkpoint = resolve_checkpoint(checkpoint)
    return build_with_weights(Config.fromfile(config).model, checkpoint).eval(), checkpoint


def teacher_temperature(teacher) -> float:
    """The teacher's learned ITC temperature, clamped into its range as at every use in training."""
    loss = getattr(teacher, 'itc_loss', None)
    if loss is None:
        raise ValueError("pseudo_labels.tau='teacher' needs a teacher trained with ITC (its itc_loss.temp)")
    lo, hi = loss.temperature_range
    return float(loss.temp.detach().clamp(lo, hi))


def _counted(encode, vocabulary, templates, desc: str, batch_size: int = 256):
    """``encode`` that reports progress over the batches ``encode_vocabulary`` will make.

    Nothing is reported when the features come from the prompt cache (no call).
    """
    if isinstance(templates, dict):
        templates = PROMPTS.build(templates)
    batches = -(-len(vocabulary) * len(templates.templates) // batch_size)
    progress = []

    def counted(texts):
        if not progress:
            progress.append(LoopProgress(batches, desc))
        out = encode(texts)
        progress[0].update()
        if progress[0].done == batches:
            progress[0].close()
        return out

    return counted


def _load_views(path: str, boxes: np.ndarray, box_ok: np.ndarray, size: Tuple[int, int]):
    """The whole image and each valid box's crop, resized to ``size`` (w, h): uint8 ``[1 + k, H, W, 3]``,
    or ``None`` (with the loader's reason) when the image does not load."""
    # boxes are in stored pixels (the preparation reads images as stored): no EXIF rotation here
    loaded = load_image(path, 'RGB', exif_transpose=False)
    if not loaded.ok:
        return None, f'{loaded.status}: {loaded.reason}'
    img = loaded.image
    views = [img.resize(size, Image.BICUBIC)]
    W, H = img.size
    for box, ok in zip(boxes, box_ok):
        if ok:
            # detector boxes may reach past the border by a rounding error; PIL refuses those
            x1, y1, x2, y2 = (float(v) for v in box)
            box = (min(max(x1, 0.0), W), min(max(y1, 0.0), H), min(max(x2, 0.0), W), min(max(y2, 0.0), H))
            views.append(img.resize(size, Image.BICUBIC, box=box))
    return np.stack([np.asarray(v, np.uint8) for v in views]), None


@torch.no_grad()
def teacher_similarities(teacher, images: List[dict], entity_features: torch.Tensor,
                         relation_features: torch.Tensor, num_objects: int, image_size=(224, 224),
                         batch_size: int = 32):
    """Cosine similarities of the teacher's region features with the prompt features.

    ``images``: dicts with ``img_path``, ``gt_boxes [K, 4]`` (original pixels), ``gt_boxes_valid [K]``.
    COE: each object's crop; CIR: the whole image. Returns ``coe_sim [R, K, Ve]``,
    ``box_valid [R, K]``, ``cir_sim [R, Vr]`` and ``image_ok [R]`` (an image that does not load gets no
    label: it is logged, counted, and its row stays invalid).
    """
    pre = teacher.data_preprocessor
    R, K = len(images), num_objects
    coe = torch.zeros(R, K, len(entity_features))
    cir = torch.zeros(R, len(relation_features))
    box_valid = torch.zeros(R, K, dtype=torch.bool)
    image_ok = torch.ones(R, dtype=torch.bool)
    owners: List[Tuple[int, int]] = []  # (row, -1 for the whole image / k for object k)
    pending: List[np.ndarray] = []

    def flush():
        if not pending:
            return
        x = torch.from_numpy(np.stack(pending)).permute(0, 3, 1, 2).float()
        x = (x - pre.mean.cpu()) / pre.std.cpu()
        feats = teacher.encode_image(x).cpu()
        for (row, k), f in zip(owners, feats):
            if k < 0:
                cir[row] = f @ relation_features.t()
            else:
                coe[row, k] = f @ entity_features.t()
        owners.clear()
        pending.clear()

    logger = MMLogger.get_current_instance()
    progress = LoopProgress(len(images), 'teacher labels', unit='image')
    for row, im in enumerate(progress.iterate(images)):
        ok = np.asarray(im['gt_boxes_valid'][:K], bool)
        views, failure = _load_views(im['img_path'], np.asarray(im['gt_boxes'][:K]), ok, tuple(image_size))
        if views is None:
            image_ok[row] = False
            logger.warning(f'teacher labels: {im["img_path"]} skipped ({failure})')
            continue
        box_valid[row, :len(ok)] = torch.from_numpy(ok)
        ks = [-1] + [k for k in range(len(ok)) if ok[k]]
        for k, v in zip(ks, views):
            owners.append((row, k))
            pending.append(v)
        if len(pending) >= batch_size:
            flush()
    flush()
    progress.close()
    return coe, box_valid, cir, image_ok


def entity_agreement(coe_sim: torch.Tensor, box_valid: torch.Tensor, images: List[dict],
                     vocabulary: Sequence[str], confident: Optional[torch.Tensor] = None) -> Dict[str, float]:
    """How often the teacher's top entity for a detected object is the object's class name.

    Counted over the objects whose class name (lower case) is in the entity
    vocabulary. ``agreement``: the top-1 entity is the class name;
    ``agreement_head``: its last word is the class name's last word (``'white
    truck'`` for ``truck``: vocabulary entries are noun chunks with a
    lemmatised head); ``agreement_top5``: the class name is among the top 5.
    ``confident [R, K]`` (labels kept by the threshold) adds ``agreement_confident``.
    """
    index = {v: i for i, v in enumerate(vocabulary)}
    top5 = coe_sim.topk(min(5, coe_sim.shape[-1]), dim=-1).indices
    n = dict(total=0, hits=0, head=0, top5=0, total_c=0, hits_c=0)
    for r, im in enumerate(images):
        for k, name in enumerate(im['gt_labels'][:coe_sim.shape[1]]):
            name = (name or '').lower()
            if not box_valid[r, k] or name not in index:
                continue
            best = vocabulary[int(top5[r, k, 0])]
            hit = best == name
            n['total'] += 1
            n['hits'] += hit
            n['head'] += best.split()[-1] == name.split()[-1]
            n['top5'] += index[name] in top5[r, k].tolist()
            if confident is not None and confident[r, k]:
                n['total_c'] += 1
                n['hits_c'] += hit
    total = max(n['total'], 1)
    out = dict(agreement=n['hits'] / total, agreement_head=n['head'] / total, agreement_top5=n['top5'] / total,
               agreement_objects=n['total'], objects=int(box_valid.sum()))
    if confident is not None:
        out.update(agreement_confident=n['hits_c'] / max(n['total_c'], 1), agreement_confident_objects=n['total_c'])
    return out


class SoftPromptLabeler:
    """The teacher's soft pseudo-labels for every image of a pair dataset, cached.

    The teacher (:class:`~pmu.models.PromptTeacher`, built from
    ``teacher_config`` with the weights of ``teacher_checkpoint``) encodes the
    entity and relation vocabularies through the prompt templates
    (:func:`pmu.pseudo_labels.encode_vocabulary`), and each image's object crops
    (COE) and the whole image (CIR) (:func:`teacher_similarities`);
    ``softmax(sim / tau)`` is the label, ignored when its largest probability is
    below ``threshold`` (:func:`~pmu.models.soft_pseudo_labels`).

    With a student whose ``label_source`` is ``'online'``,
    :meth:`online_teacher` gives the frozen teacher, its prompt features and
    the resolved temperature instead (the student labels each step's view).

    Labels are cached in ``cache_dir`` under a hash of everything they depend
    on (teacher checkpoint, vocabularies, settings, images and boxes), so a
    resumed run does not recompute them; under DDP rank 0 computes and the
    others read. A summary (labelled fractions, the entity/class agreement of
    :func:`entity_agreement`) is logged and written to
    ``<summary_dir>/summary.json``.

    Args:
        teacher_config, teacher_checkpoint: the teacher (checkpoint: a file or
            a work dir with ``last_checkpoint``).
        entity_vocab, relation_vocab: vocabulary files (the student's).
        tau: label temperature, or ``'teacher'``: the teacher's learned ITC
            temperature (clamped as in training).
        threshold, hard, entity_templates, relation_templates: as in the
            student's ``pseudo_labels``.
        image_size: ``(w, h)`` of the teacher's input.
        batch_size: images per teacher forward.
        cache_dir: where labels and prompt features are cached.
        summary_dir: where ``summary.json`` goes (default: ``cache_dir``).
    """

    def __init__(self,
                 teacher_config: str,
                 teacher_checkpoint: str,
                 entity_vocab: str,
                 relation_vocab: str,
                 tau: Union[float, str] = DEFAULT_PSEUDO_LABELS['tau'],
                 threshold: float = DEFAULT_PSEUDO_LABELS['threshold'],
                 hard: bool = DEFAULT_PSEUDO_LABELS['hard'],
                 entity_templates: dict = DEFAULT_PSEUDO_LABELS['entity_templates'],
                 relation_templates: dict = DEFAULT_PSEUDO_LABELS['relation_templates'],
                 image_size=(224, 224),
                 batch_size: int = 32,
                 cache_dir: str = 'soft_labels',
                 summary_dir: Optional[str] = None):
        if not (tau == 'teacher' or isinstance(tau, (int, float))):
            raise ValueError(f"pseudo_labels.tau must be a number or 'teacher', not {tau!r}")
        self.teacher_config = teacher_config
        self.teacher_checkpoint = teacher_checkpoint
        self.entity_vocab, self.relation_vocab = entity_vocab, relation_vocab
        self.settings = dict(tau=tau, threshold=threshold, hard=hard, entity_templates=entity_templates,
                             relation_templates=relation_templates)
        self.image_size = tuple(image_size)
        self.batch_size = batch_size
        self.cache_dir = cache_dir
        self.summary_dir = summary_dir or cache_dir
        self.summary: Optional[dict] = None
        # what of the teacher's config its features depend on besides the checkpoint (the ITC split;
        # left out of the cache keys when it is the default, so that existing caches stay valid)
        layers = Config.fromfile(teacher_config).model.get('itc_text_layers', 'all')
        self._teacher_variant = '' if layers == 'all' else f':itc_text_layers={layers}'

    @classmethod
    def for_student(cls, student, teacher_config: str, teacher_checkpoint: str, **options) -> 'SoftPromptLabeler':
        """The labeler of a :class:`~pmu.models.PromuPretrainer`: its vocabularies and ``pseudo_labels``
        settings; ``options``: the other arguments (``image_size``, ``cache_dir``, ...)."""
        return cls(teacher_config, teacher_checkpoint, student.entity_vocab, student.relation_vocab,
                   **student.pseudo_labels, **options)

    def _key(self, dataset, checkpoint: str) -> str:
        st = os.stat(checkpoint)
        payload = json.dumps([osp.abspath(checkpoint) + self._teacher_variant, st.st_size, st.st_mtime_ns,
                              self.settings,
                              read_vocabulary(self.entity_vocab), read_vocabulary(self.relation_vocab),
                              dataset.num_objects, self.image_size,
                              [(im['img_path'], np.asarray(im['gt_boxes']).tolist())
                               for im in dataset.unique_images()]],
                             sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:20]

    def prompt_features(self, teacher, checkpoint: str) -> Tuple[torch.Tensor, torch.Tensor]:
        """The teacher's prompt features of the entity and relation vocabularies (cached under
        ``<cache_dir>/prompts``)."""
        cfg = self.settings
        entities, relations = read_vocabulary(self.entity_vocab), read_vocabulary(self.relation_vocab)
        st = os.stat(checkpoint)
        encoder_id = f'teacher:{osp.abspath(checkpoint)}:{st.st_size}:{st.st_mtime_ns}{self._teacher_variant}'
        prompt_dir = osp.join(self.cache_dir, 'prompts')
        ent = encode_vocabulary(entities, cfg['entity_templates'],
                                _counted(teacher.encode_text, entities, cfg['entity_templates'], 'entity prompts'),
                                encoder_id, cache_dir=prompt_dir)
        rel = encode_vocabulary(relations, cfg['relation_templates'],
                                _counted(teacher.encode_text, relations, cfg['relation_templates'],
                                         'relation prompts'),
                                encoder_id, cache_dir=prompt_dir)
        return ent, rel

    def temperature(self, teacher) -> float:
        """The label temperature: the setting, or the teacher's learned one (``tau='teacher'``)."""
        tau = self.settings['tau']
        return teacher_temperature(teacher) if tau == 'teacher' else float(tau)

    def online_teacher(self) -> dict:
        """For :meth:`PromuPretrainer.set_online_teacher`: ``dict(teacher, entity_features,
        relation_features, tau, image_size)``; the frozen teacher labels each step's view. The settings
        are written to ``<summary_dir>/summary.json`` (:attr:`summary`). Under DDP rank 0 encodes the
        prompts first, the others read them from the cache."""
        checkpoint = resolve_checkpoint(self.teacher_checkpoint)
        teacher, checkpoint = build_teacher(self.teacher_config, checkpoint)
        if is_main_process():
            ent, rel = self.prompt_features(teacher, checkpoint)
        barrier()
        if not is_main_process():
            ent, rel = self.prompt_features(teacher, checkpoint)
        tau = self.temperature(teacher)
        cfg = self.settings
        self.summary = dict(label_source='online', teacher=checkpoint, tau=tau, tau_setting=cfg['tau'],
                            threshold=cfg['threshold'], hard=cfg['hard'], image_size=list(self.image_size),
                            entity_prompts=len(ent), relation_prompts=len(rel))
        if is_main_process():
            os.makedirs(self.summary_dir, exist_ok=True)
            with open(osp.join(self.summary_dir, 'summary.json'), 'w') as f:
                json.dump(self.summary, f, indent=2)
            MMLogger.get_current_instance().info(
                'online soft labels: the frozen teacher labels each step\'s view; ' + ', '.join(
                    f'{k}={v:.4g}' if isinstance(v, float) else f'{k}={v}' for k, v in self.summary.items()))
        return dict(teacher=teacher, entity_features=ent, relation_features=rel, tau=tau,
                    image_size=self.image_size)

    def compute(self, dataset, checkpoint: str) -> dict:
        """Labels and summary of ``dataset``'s images (no cache)."""
        teacher, checkpoint = build_teacher(self.teacher_config, checkpoint)
        cfg = self.settings
        entities = read_vocabulary(self.entity_vocab)
        ent, rel = self.prompt_features(teacher, checkpoint)
        images = dataset.unique_images()
        coe_sim, box_valid, cir_sim, image_ok = teacher_similarities(
            teacher, images, ent, rel, dataset.num_objects, self.image_size, self.batch_size)
        tau = self.temperature(teacher)
        args = dict(tau=tau, threshold=cfg['threshold'], hard=cfg['hard'])
        coe, coe_valid = soft_pseudo_labels(coe_sim, **args)
        cir, cir_valid = soft_pseudo_labels(cir_sim, **args)
        cir_valid &= image_ok
        coe_valid &= box_valid
        summary = dict(teacher=checkpoint, images=len(images), images_unreadable=int((~image_ok).sum()), **args,
                       tau_setting=cfg['tau'],
                       cir_labelled=float(cir_valid.float().mean()),
                       coe_labelled_of_objects=float(coe_valid.sum() / box_valid.sum().clamp(min=1)),
                       **entity_agreement(coe_sim, box_valid, images, entities, confident=coe_valid))
        return dict(index={im['img_path']: i for i, im in enumerate(images)}, coe=coe.half(), coe_valid=coe_valid,
                    cir=cir.half(), cir_valid=cir_valid, summary=summary)

    def label(self, dataset) -> dict:
        """``dict(index, coe, coe_valid, cir, cir_valid)`` for :meth:`PromuPretrainer.set_soft_labels`.

        ``index`` maps an image path to its row; ``coe [R, K, Ve]`` and ``cir
        [R, Vr]`` (float16), ``coe_valid [R, K]``, ``cir_valid [R]``. The summary
        is kept in :attr:`summary`.
        """
        logger = MMLogger.get_current_instance()
        checkpoint = resolve_checkpoint(self.teacher_checkpoint)
        cache = osp.join(self.cache_dir, f'labels_{self._key(dataset, checkpoint)}.pt')
        if is_main_process() and not osp.exists(cache):
            data = self.compute(dataset, checkpoint)
            os.makedirs(self.cache_dir, exist_ok=True)
            tmp = f'{cache}.tmp{os.getpid()}'
            torch.save(data, tmp)
            os.replace(tmp, cache)
        barrier()
        data = torch.load(cache, map_location='cpu', weights_only=True)
        self.summary = data.pop('summary')
        if is_main_process():
            os.makedirs(self.summary_dir, exist_ok=True)
            with open(osp.join(self.summary_dir, 'summary.json'), 'w') as f:
                json.dump(self.summary, f, indent=2)
        if get_rank() == 0:
            logger.info(f'soft labels ({cache}): ' + ', '.join(
                f'{k}={v:.3f}' if isinstance(v, float) else f'{k}={v}' for k, v in self.summary.items()))
        return data
