"""Soft pseudo-labels from the teacher (prompter), computed once before the student trains."""
import hashlib
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dist import barrier, get_rank, is_main_process
from mmengine.hooks import Hook
from mmengine.logging import MMLogger
from mmengine.model import is_model_wrapper
from PIL import Image

from pmu.engine.checkpoint import load_checkpoint_file
from pmu.pseudo_labels.prompts import encode_vocabulary
from pmu.pseudo_labels.vocabulary import read_vocabulary
from pmu.registry import HOOKS, MODELS


def resolve_checkpoint(path: str) -> str:
    """A checkpoint file, or a work dir whose ``last_checkpoint`` names one."""
    if osp.isdir(path):
        marker = osp.join(path, 'last_checkpoint')
        if not osp.exists(marker):
            raise FileNotFoundError(f'{path} holds no last_checkpoint: train that model first '
                                    '(docs/pretraining.md) or name its checkpoint file')
        with open(marker) as f:
            path = f.read().strip()
    if not osp.exists(path):
        raise FileNotFoundError(f'checkpoint {path} not found: train that model first (docs/pretraining.md)')
    return path


def build_teacher(config: str, checkpoint: str):
    """The teacher model of ``config`` with the weights of ``checkpoint`` (all keys must match)."""
    checkpoint = resolve_checkpoint(checkpoint)
    cfg = Config.fromfile(config)
    model_cfg = dict(cfg.model)
    for key in ('text_encoder', 'visual_encoder'):  # the checkpoint brings the weights
        if model_cfg[key].get('type') in ('HFTextEncoder', 'HFVisionEncoder'):
            model_cfg[key] = dict(model_cfg[key], pretrained=False)
    teacher = MODELS.build(model_cfg)
    state = load_checkpoint_file(checkpoint)
    teacher.load_state_dict(state.get('state_dict', state), strict=True)
    return teacher.eval(), checkpoint


def _load_views(path: str, boxes: np.ndarray, box_ok: np.ndarray, size: Tuple[int, int]):
    """The whole image and each valid box's crop, resized to ``size`` (w, h): uint8 ``[1 + k, H, W, 3]``."""
    with Image.open(path) as img:
        img = img.convert('RGB')
        views = [img.resize(size, Image.BICUBIC)]
        for box, ok in zip(boxes, box_ok):
            if ok:
                views.append(img.resize(size, Image.BICUBIC, box=tuple(float(v) for v in box)))
    return np.stack([np.asarray(v, np.uint8) for v in views])


@torch.no_grad()
def teacher_similarities(teacher, images: List[dict], entity_features: torch.Tensor,
                         relation_features: torch.Tensor, num_objects: int, image_size=(224, 224),
                         batch_size: int = 32):
    """Cosine similarities of the teacher's region features with the prompt features.

    ``images``: dicts with ``img_path``, ``gt_boxes [K, 4]`` (original pixels), ``gt_boxes_valid [K]``.
    COE: each object's crop; CIR: the whole image. Returns ``coe_sim [R, K, Ve]``,
    ``box_valid [R, K]``, ``cir_sim [R, Vr]``.
    """
    pre = teacher.data_preprocessor
    R, K = len(images), num_objects
    coe = torch.zeros(R, K, len(entity_features))
    cir = torch.zeros(R, len(relation_features))
    box_valid = torch.zeros(R, K, dtype=torch.bool)
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

    for row, im in enumerate(images):
        ok = np.asarray(im['gt_boxes_valid'][:K], bool)
        views = _load_views(im['img_path'], np.asarray(im['gt_boxes'][:K]), ok, tuple(image_size))
        box_valid[row, :len(ok)] = torch.from_numpy(ok)
        ks = [-1] + [k for k in range(len(ok)) if ok[k]]
        for k, v in zip(ks, views):
            owners.append((row, k))
            pending.append(v)
        if len(pending) >= batch_size:
            flush()
    flush()
    return coe, box_valid, cir


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


@HOOKS.register_module()
class SoftLabelHook(Hook):
    """Before training: the teacher labels every training image for COE and CIR.

    The teacher (:class:`~pmu.models.PromptTeacher`, built from
    ``teacher_config`` with the weights of ``teacher_checkpoint``) encodes the
    entity and relation vocabularies of the student (``model.entity_vocab``,
    ``model.relation_vocab``) through the prompt templates, and each training
    image's object crops (COE) and the whole image (CIR). The student's
    ``pseudo_labels`` settings (``tau``, ``threshold``, ``hard``, templates)
    turn similarities into labels (:func:`pmu.models.soft_pseudo_labels`).

    Labels are cached in ``<work_dir>/soft_labels/`` under a hash of all of
    that, so a resumed run does not recompute them; rank 0 computes, the
    others read. A summary (labelled fractions, entity/class agreement) is
    logged and written to ``<work_dir>/soft_labels/summary.json``.

    Args:
        teacher_config: the teacher's config file.
        teacher_checkpoint: its checkpoint, or its work dir (``last_checkpoint``).
        image_size: ``(w, h)`` of the teacher's input.
        batch_size: images per teacher forward.
        cache_dir: where labels and prompt features are cached (default
            ``<work_dir>/soft_labels``); runs may share one, entries are keyed
            by everything they depend on.
    """

    priority = 'VERY_HIGH'

    def __init__(self, teacher_config: str, teacher_checkpoint: str, image_size=(224, 224), batch_size: int = 32,
                 cache_dir: Optional[str] = None):
        self.teacher_config = teacher_config
        self.cache_dir = cache_dir
        self.teacher_checkpoint = teacher_checkpoint
        self.image_size = tuple(image_size)
        self.batch_size = batch_size

    def before_train(self, runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if not getattr(model, 'needs_soft_labels', False):
            return
        dataset = runner.train_dataloader.dataset
        labels = self.compute(model, dataset, runner.work_dir, runner.logger)
        model.set_soft_labels(**labels)

    def _key(self, model, dataset, checkpoint) -> str:
        st = os.stat(checkpoint)
        images = dataset.unique_images()
        payload = json.dumps([osp.abspath(checkpoint), st.st_size, st.st_mtime_ns, model.pseudo_labels,
                              read_vocabulary(model.entity_vocab), read_vocabulary(model.relation_vocab),
                              dataset.num_objects, self.image_size,
                              [(im['img_path'], np.asarray(im['gt_boxes']).tolist()) for im in images]],
                             sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:20]

    def compute(self, model, dataset, work_dir: str, logger: Optional[MMLogger] = None) -> dict:
        from pmu.models.pretrainers import soft_pseudo_labels
        logger = logger or MMLogger.get_current_instance()
        checkpoint = resolve_checkpoint(self.teacher_checkpoint)
        out_dir = self.cache_dir or osp.join(work_dir, 'soft_labels')
        cache = osp.join(out_dir, f'labels_{self._key(model, dataset, checkpoint)}.pt')
        if is_main_process() and not osp.exists(cache):
            teacher, checkpoint = build_teacher(self.teacher_config, checkpoint)
            cfg = model.pseudo_labels
            entities, relations = read_vocabulary(model.entity_vocab), read_vocabulary(model.relation_vocab)
            st = os.stat(checkpoint)
            encoder_id = f'teacher:{osp.abspath(checkpoint)}:{st.st_size}:{st.st_mtime_ns}'
            prompt_dir = osp.join(out_dir, 'prompts')
            ent = encode_vocabulary(entities, cfg['entity_templates'], teacher.encode_text, encoder_id,
                                    cache_dir=prompt_dir)
            rel = encode_vocabulary(relations, cfg['relation_templates'], teacher.encode_text, encoder_id,
                                    cache_dir=prompt_dir)
            images = dataset.unique_images()
            coe_sim, box_valid, cir_sim = teacher_similarities(teacher, images, ent, rel, dataset.num_objects,
                                                               self.image_size, self.batch_size)
            args = dict(tau=cfg['tau'], threshold=cfg['threshold'], hard=cfg['hard'])
            coe, coe_valid = soft_pseudo_labels(coe_sim, **args)
            cir, cir_valid = soft_pseudo_labels(cir_sim, **args)
            coe_valid &= box_valid
            summary = dict(teacher=checkpoint, images=len(images), **args,
                           cir_labelled=float(cir_valid.float().mean()),
                           coe_labelled_of_objects=float(coe_valid.sum() / box_valid.sum().clamp(min=1)),
                           **entity_agreement(coe_sim, box_valid, images, entities, confident=coe_valid))
            os.makedirs(out_dir, exist_ok=True)
            tmp = f'{cache}.tmp{os.getpid()}'
            torch.save(dict(index={im['img_path']: i for i, im in enumerate(images)}, coe=coe.half(),
                            coe_valid=coe_valid, cir=cir.half(), cir_valid=cir_valid, summary=summary), tmp)
            os.replace(tmp, cache)
        barrier()
        data = torch.load(cache, map_location='cpu', weights_only=True)
        summary = data.pop('summary')
        if is_main_process():
            os.makedirs(osp.join(work_dir, 'soft_labels'), exist_ok=True)
            with open(osp.join(work_dir, 'soft_labels', 'summary.json'), 'w') as f:
                json.dump(summary, f, indent=2)
        if get_rank() == 0:
            logger.info(f'soft labels ({cache}): ' + ', '.join(
                f'{k}={v:.3f}' if isinstance(v, float) else f'{k}={v}' for k, v in summary.items()))
        return data
