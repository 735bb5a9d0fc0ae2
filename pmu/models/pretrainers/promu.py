"""PROMU pre-training: the ITC-only teacher (prompter) and the student with ITC, ITM, COE and CIR."""
import copy
import difflib
import re
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import MMLogger

from pmu.registry import MODELS
from pmu.structures import read_vocabulary
from ..base import ThreeModeModel
from ..fusion import FusionOutput, build_fusion
from ..losses.matching import sample_hard_negatives
from .alignment import (
    DEFAULT_PSEUDO_LABELS,
    box_grid_weights,
    crop_boxes,
    distinct_images,
    grid_shape,
    image_id,
    soft_pseudo_labels,
)


def _vocab_size(vocab) -> int:
    """Entries of a vocabulary file, or a given size."""
    if vocab is None or isinstance(vocab, int):
        return vocab or 0
    return len(read_vocabulary(vocab))


@MODELS.register_module()
class PromuPretrainer(ThreeModeModel):
    """PROMU's student: encoders + fusion pre-trained with ITC, ITM, COE and CIR.

    The module names ``text_encoder``, ``visual_encoder`` and ``fusion`` are
    those of the fine-tuning models, so a checkpoint loads into MNER/MRE with
    the identity key map.

    With PROMU's fusion (``SingleStreamFusion``) the text encoder's lower
    layers encode the caption alone, once per step; its upper layers either
    finish the caption alone or fuse it with an image's visual tokens:

    - ITC: the caption alone (the whole text encoder, pooled by ``text_pool``;
      with ``itc_text_layers='lower'`` only the layers below the fusion, as the
      official code and ALBEF) and the image's global token, projected to
      ``embed_dim``; symmetric InfoNCE (``itc_loss``).
    - ITM: the fused [CLS] of every pair as given (label: its match flag) and,
      per matched pair, a negative caption and a negative image
      (``itm_head``). Negatives are drawn from the ITC similarities (hard
      negatives, ALBEF); with ``itm_hard_negatives=False``, or without ITC
      (``itc_loss=None``: no trained similarity to mine), uniformly among the
      non-positives. The negatives re-use the caption's lower-layer states.
    - COE: the **fused** visual grid tokens of the pair's own forward pooled
      over the object's (remapped) box (:func:`box_grid_weights`) → MLP →
      entity vocabulary (``coe_head``), against the teacher's soft label.
    - CIR: the fused [CLS] (``cir_source='cls'``, the paper) or the mean of the
      fused visual tokens (``'visual_mean'``, the official code) → relation
      vocabulary (``cir_head``). With offline labels, samples whose random
      crop kept less than ``cir_min_coverage`` of the image (metainfo
      ``crop_coverage``) are skipped: the teacher labelled the whole image, the
      student sees the crop.

    Where the labels come from (``label_source``): ``'offline'``, once before
    training, on the whole un-augmented image and on each object's box of the
    original image (:meth:`set_soft_labels`, ``SoftLabelHook``); or
    ``'online'``, in each step, on the view the student sees: the frozen
    teacher (:meth:`set_online_teacher`; eval mode, no gradient, outside the
    module tree: not in the optimizer, the state dict or a checkpoint) encodes
    the augmented image (CIR) and the part of the remapped box in it (COE),
    against the same prompt features, temperature and threshold. Online, no
    pair is skipped for its crop (``cir_skipped_crop`` is 0).

    COE and CIR read the fused forward of each pair with its own image, so
    their gradients train the fusion layers and the text encoder too. They use
    matched pairs only: a mismatched pair's caption describes another image
    (those rows are skipped and counted: ``align_skipped_mismatched``).

    Args:
        text_encoder, visual_encoder, fusion: as in the fine-tuning models
            (what the fusion takes from the encoders is filled in).
        embed_dim: ITC projection size (256 in the paper).
        text_pool: ``'cls'`` or ``'mean'`` (sentence-transformers models such
            as MiniLM were trained with mean pooling) for the ITC text feature.
        itc_text_layers: which text layers make the ITC text feature (and the
            prompt features of :meth:`encode_text`): ``'all'`` (the whole text
            encoder), ``'lower'`` (the layers below the fusion, text only: the
            official code, ALBEF), or a number N (the lowest N layers; a model
            without a fusion, e.g. the teacher, takes only a number).
        itc_loss: ``ImageTextContrastiveLoss`` config, ``None`` to leave ITC out
            (then there are no ITC features: no retrieval in ``predict``).
        itm_head: ``ITMHead`` config (with its ``loss``), ``None``: no ITM.
        coe_head, cir_head: ``SoftAlignmentHead`` configs (with their
            ``loss``), ``None``: no COE / CIR. Sizes and names are filled in.
        itm_hard_negatives: mine ITM negatives from the ITC similarities.
        cir_source: ``'cls'`` or ``'visual_mean'``.
        cir_min_coverage: smallest share of the original image's area a crop
            must keep for CIR to use the sample (offline labels only).
        label_source: ``'offline'`` or ``'online'`` (see above).
        entity_vocab, relation_vocab: vocabulary files of the pseudo-label
            cache (or their sizes): the output sizes of the COE/CIR heads.
        pseudo_labels: how the teacher's similarities become labels
            (:class:`~pmu.pseudo_labels.soft_labeler.SoftPromptLabeler`): ``tau`` (a
            number, or ``'teacher'``: the teacher's learned ITC temperature),
            ``threshold`` (largest probability below it: sample ignored),
            ``hard`` (one-hot argmax), ``entity_templates``,
            ``relation_templates`` (PROMPTS configs). A key left out takes
            :data:`~pmu.models.pretrainers.DEFAULT_PSEUDO_LABELS`, the one place of
            their defaults; :attr:`pseudo_labels` holds the merged settings, which
            the labeler, the online teacher and the grounding API read.
        max_length: tokens per caption for ``encode_text``.
        frozen_parameters: regular expressions; parameters whose names match
            one get no gradient (the lite CPU configs freeze EfficientNet's
            early stages: their backward pass dominates a CPU step).
    """

    def __init__(self,
                 text_encoder: dict,
                 visual_encoder: dict,
                 fusion: Optional[dict] = None,
                 embed_dim: int = 256,
                 text_pool: str = 'cls',
                 itc_text_layers: Union[str, int] = 'all',
                 itc_loss: Optional[dict] = dict(type='ImageTextContrastiveLoss'),
                 itm_head: Optional[dict] = None,
                 coe_head: Optional[dict] = None,
                 cir_head: Optional[dict] = None,
                 itm_hard_negatives: bool = True,
                 cir_source: str = 'cls',
                 cir_min_coverage: float = 0.5,
                 label_source: str = 'offline',
                 entity_vocab=None,
                 relation_vocab=None,
                 pseudo_labels: Optional[dict] = None,
                 max_length: int = 32,
                 frozen_parameters: Sequence[str] = (),
                 data_preprocessor: Optional[dict] = None,
                 init_cfg=None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if text_pool not in ('cls', 'mean'):
            raise ValueError(f"text_pool must be 'cls' or 'mean', not {text_pool!r}")
        if cir_source not in ('cls', 'visual_mean'):
            raise ValueError(f"cir_source must be 'cls' or 'visual_mean', not {cir_source!r}")
        if label_source not in ('offline', 'online'):
            raise ValueError(f"label_source must be 'offline' or 'online', not {label_source!r}")
        self.text_encoder = MODELS.build(text_encoder)
        self.visual_encoder = MODELS.build(visual_encoder)
        hidden, channels = self.text_encoder.hidden_size, self.visual_encoder.out_channels
        self.fusion = build_fusion(fusion, self.text_encoder, self.visual_encoder) if fusion is not None else None
        if (itm_head or coe_head or cir_head) and self.fusion is None:
            raise ValueError('ITM, COE and CIR need a fusion module (model.fusion)')
        if not (itc_loss or itm_head or coe_head or cir_head):
            raise ValueError('no objective left: set at least one of itc_loss, itm_head, coe_head, cir_head')
        self.text_pool = text_pool
        self.itc_text_layers = itc_text_layers
        self._itc_lower = self._itc_split(itc_text_layers)
        self.label_source = label_source
        self.max_length = max_length
        self.itm_hard_negatives = itm_hard_negatives
        self.cir_source = cir_source
        self.cir_min_coverage = cir_min_coverage
        if itc_loss:
            self.text_proj = nn.Linear(hidden, embed_dim)
            self.vision_proj = nn.Linear(channels, embed_dim)
            self.itc_loss = MODELS.build(itc_loss)
        else:  # no untrained projections (DDP would wait for their gradients)
            self.text_proj = self.vision_proj = self.itc_loss = None
        self.itm_head = MODELS.build(dict(itm_head, in_channels=hidden)) if itm_head else None
        num_entities, num_relations = _vocab_size(entity_vocab), _vocab_size(relation_vocab)
        if coe_head and not num_entities:
            raise ValueError('COE needs entity_vocab (the cache\'s entity_vocab.txt or its size)')
        if cir_head and not num_relations:
            raise ValueError('CIR needs relation_vocab (the cache\'s relation_vocab.txt or its size)')
        self.entity_vocab, self.relation_vocab = entity_vocab, relation_vocab
        self.coe_head = MODELS.build(dict(coe_head, in_channels=hidden, num_classes=num_entities,
                                          name='coe')) if coe_head else None
        self.cir_head = MODELS.build(dict(cir_head, in_channels=hidden, num_classes=num_relations,
                                          name='cir')) if cir_head else None
        unknown = sorted(set(pseudo_labels or {}) - set(DEFAULT_PSEUDO_LABELS))
        if unknown:
            hints = [f"'{k}' (did you mean '{close[0]}'?)" if close else f"'{k}'" for k in unknown
                     for close in [difflib.get_close_matches(k, list(DEFAULT_PSEUDO_LABELS), n=1)]]
            raise ValueError(f'model.pseudo_labels: unknown key {", ".join(hints)}; the settings are '
                             f'{", ".join(DEFAULT_PSEUDO_LABELS)}')
        self.pseudo_labels = copy.deepcopy(DEFAULT_PSEUDO_LABELS)
        self.pseudo_labels.update(pseudo_labels or {})
        self.soft_labels: Optional[dict] = None
        # the online teacher and its prompt features: a plain dict, so that the teacher is no
        # sub-module (not in parameters(), the optimizer, the state dict, DDP or model.train())
        self._online: Optional[dict] = None
        self.frozen_parameters = tuple(frozen_parameters)
        for name, param in self.named_parameters():
            if any(re.match(p, name) for p in self.frozen_parameters):
                param.requires_grad_(False)

    def _itc_split(self, layers) -> Optional[int]:
        """The number of lower text layers ITC reads, ``None`` for the whole text encoder."""
        if layers == 'all':
            return None
        total = getattr(self.text_encoder, 'num_layers', None)
        if layers == 'lower':
            split = getattr(self.fusion, 'split', None)
            if split is None:
                raise ValueError("itc_text_layers='lower' needs a fusion that splits the text encoder "
                                 "(SingleStreamFusion); a model without one takes a number of layers")
            return split
        if isinstance(layers, bool) or not isinstance(layers, int):
            raise ValueError(f"itc_text_layers must be 'all', 'lower' or a number of layers, not {layers!r}")
        if self.fusion is not None and layers != getattr(self.fusion, 'split', None):
            raise ValueError(f'itc_text_layers={layers}: with a fusion, ITC reads the layers below it '
                             f"({getattr(self.fusion, 'split', None)}; say 'lower')")
        if total is None or not 1 <= layers <= total:
            raise ValueError(f'itc_text_layers={layers}: the text encoder has {total} layers')
        return None if layers == total else layers

    @property
    def needs_soft_labels(self) -> bool:
        return self.coe_head is not None or self.cir_head is not None

    # ---- features -------------------------------------------------------------------------------
    def _pool_text(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.text_pool == 'cls':
            return states[:, 0]
        m = mask.unsqueeze(-1).to(states.dtype)
        return (states * m).sum(1) / m.sum(1).clamp(min=1)

    def _require_itc(self):
        if self.itc_loss is None:
            raise RuntimeError('this model has no ITC features (itc_loss=None): retrieval and prompt '
                               'features need them')

    def _encode_text(self, input_ids, attention_mask):
        """The image-independent part of the caption: the fusion's lower layers (all of the text
        encoder without a fusion, or its lowest ``itc_text_layers``)."""
        if self.fusion is None:
            if self._itc_lower is not None:
                return self.text_encoder.encode_layers(self.text_encoder.embed(input_ids), attention_mask, 0,
                                                       self._itc_lower)
            return self.text_encoder(input_ids, attention_mask)
        return self.fusion.encode_text(self.text_encoder, input_ids, attention_mask)

    def _text_alone(self, lower, attention_mask):
        """The caption's states without any image that ITC reads: the whole text encoder, or with
        ``itc_text_layers`` the lower layers only (``lower`` itself)."""
        if self.fusion is None or self._itc_lower is not None:
            return lower
        return self.fusion.fuse(self.text_encoder, lower, attention_mask).text

    def _text_feat(self, states, attention_mask):
        return F.normalize(self.text_proj(self._pool_text(states, attention_mask)).float(), dim=-1)

    def _image_feat(self, tokens):
        return F.normalize(self.vision_proj(tokens[:, 0]).float(), dim=-1)

    def text_features(self, input_ids, attention_mask):
        """Text states ``[B, L, D]`` (the text encoder alone; its lower layers with ``itc_text_layers``)
        and the normalised ITC feature ``[B, E]``."""
        self._require_itc()
        states = self._text_alone(self._encode_text(input_ids, attention_mask), attention_mask)
        return states, self._text_feat(states, attention_mask)

    def image_features(self, images):
        """Visual tokens ``[N, T, C]`` (global token first) and the normalised ITC feature ``[N, E]``."""
        self._require_itc()
        tokens = self.visual_encoder(images)
        return tokens, self._image_feat(tokens)

    @torch.no_grad()
    def encode_text(self, texts: List[str]) -> torch.Tensor:
        """Sentences → normalised ITC features ``[N, E]`` (prompt features for the teacher)."""
        self._require_itc()
        enc = self.text_encoder.tokenizer(list(texts), padding=True, truncation=True, max_length=self.max_length,
                                          return_tensors='pt')
        device = self.text_proj.weight.device
        return self.text_features(enc['input_ids'].to(device), enc['attention_mask'].to(device))[1]

    @torch.no_grad()
    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """Normalised (``data_preprocessor``'s mean/std) images → normalised ITC features ``[N, E]``."""
        self._require_itc()
        return self.image_features(images.to(self.text_proj.weight.device))[1]

    # ---- modes (forward: ThreeModeModel) ---------------------------------------------------------
    @staticmethod
    def _with_images(inputs: dict, data_samples):
        """Pre-training needs the image of every pair: samples without one are dropped."""
        keep = inputs['has_image']
        if keep.all():
            return inputs, data_samples
        MMLogger.get_current_instance().warning(f'{int((~keep).sum())} pairs without a readable image skipped')
        idx = keep.nonzero().squeeze(1).tolist()
        inputs = dict(inputs, input_ids=inputs['input_ids'][keep], attention_mask=inputs['attention_mask'][keep],
                      has_image=keep[keep])
        return inputs, [data_samples[i] for i in idx]

    def extract_feat(self, inputs: dict):
        """What every objective starts from: the captions' image-independent states ``[B, L, D]``
        (:meth:`_encode_text`) and the visual tokens ``[B, T, C]`` (global token first)."""
        return (self._encode_text(inputs['input_ids'], inputs['attention_mask']),
                self.visual_encoder(inputs['images']))

    def _forward(self, inputs: dict, data_samples=None):
        """Normalised ITC features: ``image_feat [B, E]``, ``text_feat [B, E]``."""
        self._require_itc()
        lower, visual = self.extract_feat(inputs)
        return self._image_feat(visual), self._text_feat(self._text_alone(lower, inputs['attention_mask']),
                                                          inputs['attention_mask'])

    def predict(self, inputs: dict, data_samples):
        """Data samples with ``pred_image_feat`` and ``pred_text_feat`` (for retrieval metrics)."""
        inputs, data_samples = self._with_images(inputs, data_samples)
        if not data_samples:
            return []
        self._require_itc()
        mask = inputs['attention_mask']
        text_feat = self._text_feat(self._text_alone(self._encode_text(inputs['input_ids'], mask), mask), mask)
        # a retrieval split pairs each image with several captions (Flickr8k: 5): encode it once
        keep, index = distinct_images(inputs['images'], [s.img_path for s in data_samples])
        image_feat = self._image_feat(self.visual_encoder(inputs['images'][keep]))[index]
        return self.add_pred_to_datasample(data_samples, pred_image_feat=list(image_feat.cpu()),
                                           pred_text_feat=list(text_feat.cpu()))

    def loss(self, inputs: dict, data_samples) -> Dict[str, torch.Tensor]:
        inputs, data_samples = self._with_images(inputs, data_samples)
        if not data_samples:
            raise RuntimeError('a training batch without any readable image')
        mask = inputs['attention_mask']
        device = mask.device
        match = torch.tensor([bool(s.match) for s in data_samples], device=device)
        online = None
        if self.needs_soft_labels and self.label_source == 'online':
            # the teacher first, before the student's graph holds the step's activations
            online = self._label_view(inputs['images'], data_samples, match.nonzero().squeeze(1))
        # the image-independent part of the captions, computed once for every use below
        lower, visual = self.extract_feat(inputs)
        image_ids = torch.tensor([image_id(s.img_path) for s in data_samples], device=device)
        text_image_ids = torch.where(match, image_ids, torch.full_like(image_ids, -1))

        losses = {}
        image_feat = text_feat = None
        if self.itc_loss is not None:
            text_feat = self._text_feat(self._text_alone(lower, mask), mask)
            image_feat = self._image_feat(visual)
            losses['loss_itc'] = self.itc_loss(image_feat, text_feat, image_ids, text_image_ids)
            losses['itc_temp'] = self.itc_loss.temp.detach().clone()
        if self.itm_head is None and not self.needs_soft_labels:
            return losses

        # one fused forward: ITM's pairs (every pair with its own image first, then the negatives)
        # or, without ITM, the matched pairs with their own images
        matched = match.nonzero().squeeze(1)
        if self.itm_head is not None:
            text_idx, image_idx, itm_labels = self._itm_pairs(match, image_ids, text_image_ids, image_feat,
                                                              text_feat)
            own_rows = matched  # row i of the fused batch is pair i with its own image
        else:
            text_idx = image_idx = matched
            own_rows = torch.arange(len(matched), device=device)
        fused = None
        if len(text_idx):
            fused = self.fusion.fuse(self.text_encoder, lower[text_idx], mask[text_idx], visual[image_idx],
                                     torch.ones(len(text_idx), dtype=torch.bool, device=device))
        if self.itm_head is not None:
            losses.update(self.itm_head.loss(fused.text[:, 0], itm_labels))
        if self.needs_soft_labels:
            losses.update(self._alignment(fused, own_rows, data_samples, matched, inputs['images'], online))
            losses['align_skipped_mismatched'] = (~match).float().mean()
        return losses

    def _itm_pairs(self, match, image_ids, text_image_ids, image_feat, text_feat):
        """Caption and image indices of ITM's pairs, and their labels (1 = matched).

        Every pair as given (label: its match flag), then a negative caption for
        each matched image and a negative image for each matched caption.
        """
        n = len(match)
        positive = image_ids[:, None] == text_image_ids[None, :]  # [image, text]
        with torch.no_grad():
            if self.itm_hard_negatives and image_feat is not None:
                sim = image_feat @ text_feat.t() / self.itc_loss.temp
            else:  # uniform over the non-positives
                sim = torch.zeros(n, n, device=match.device)
            neg_text = sample_hard_negatives(sim, positive)
            neg_image = sample_hard_negatives(sim.t(), positive.t())
        own = torch.arange(n, device=match.device)
        m_text = match & (neg_text >= 0)
        m_image = match & (neg_image >= 0)
        text_idx = torch.cat([own, neg_text[m_text], own[m_image]])
        image_idx = torch.cat([own, own[m_text], neg_image[m_image]])
        labels = torch.cat([match.long(), match.new_zeros(int(m_text.sum()) + int(m_image.sum()), dtype=torch.long)])
        return text_idx, image_idx, labels

    def _lookup(self, data_samples, device):
        if self.soft_labels is None:
            raise RuntimeError('COE/CIR need the teacher\'s soft labels: add SoftLabelHook to custom_hooks '
                               '(see configs/pretrain/) or set model.coe_head/cir_head=None')
        return torch.tensor([self.soft_labels['index'].get(s.img_path, -1) for s in data_samples], device=device)

    def _offline_labels(self, samples, k: int, device) -> dict:
        """The cached labels of ``samples``' images (the whole image, the original boxes); ``*_valid``:
        the image has a row and the teacher was confident."""
        label_rows = self._lookup(samples, device)
        known = label_rows >= 0
        safe = label_rows.clamp(min=0).cpu()
        out = dict(known=known)
        if self.cir_head is not None:
            out['cir'] = self.soft_labels['cir'][safe].to(device)
            out['cir_valid'] = self.soft_labels['cir_valid'][safe].to(device) & known
        if self.coe_head is not None:
            out['coe'] = self.soft_labels['coe'][safe, :k].to(device)
            out['coe_valid'] = self.soft_labels['coe_valid'][safe, :k].to(device) & known[:, None]
        return out

    def _teacher_input(self, images: torch.Tensor, teacher) -> torch.Tensor:
        """The student's normalised images in the teacher's normalisation (the same in pmu's configs)."""
        s_mean, s_std = (getattr(self.data_preprocessor, k, None) for k in ('mean', 'std'))
        t_mean, t_std = (getattr(teacher.data_preprocessor, k, None) for k in ('mean', 'std'))
        if any(v is None for v in (s_mean, s_std, t_mean, t_std)):
            if not all(v is None for v in (s_mean, s_std, t_mean, t_std)):
                raise ValueError('the student and the teacher normalise images differently and one of them '
                                 'does not say how (data_preprocessor mean/std)')
            return images.float()
        if torch.equal(s_mean.cpu(), t_mean.cpu()) and torch.equal(s_std.cpu(), t_std.cpu()):
            return images.float()
        raw = images.float() * s_std.to(images.device) + s_mean.to(images.device)
        return (raw - t_mean.to(images.device)) / t_std.to(images.device)

    @torch.no_grad()
    def _online_labels(self, images: torch.Tensor, boxes: Optional[torch.Tensor],
                       box_seen: Optional[torch.Tensor]) -> dict:
        """The frozen teacher's labels of the view the student sees, in this step, without gradient.

        ``images [m, 3, H, W]``: the augmented images (the data preprocessor's output); ``boxes [m, k,
        4]`` in their pixels and ``box_seen [m, k]`` (a box the crop kept, covering a grid cell): COE
        labels the region of each such box, CIR the whole augmented image. Temperature, threshold
        and ``hard`` as :attr:`pseudo_labels` (the temperature resolved when the teacher was set).
        """
        if self._online is None:
            raise RuntimeError("label_source='online' needs the teacher: add SoftLabelHook to custom_hooks "
                               '(it calls set_online_teacher before training)')
        on = self._online
        teacher, device = on['teacher'], images.device
        teacher.to(device).eval()
        for key in ('entity_features', 'relation_features'):
            on[key] = on[key].to(device)
        x = self._teacher_input(images, teacher)
        hw = tuple(x.shape[-2:]) if on['image_size'] is None else (on['image_size'][1], on['image_size'][0])
        args = dict(tau=on['tau'], threshold=self.pseudo_labels['threshold'], hard=self.pseudo_labels['hard'])
        out = dict(known=torch.ones(len(images), dtype=torch.bool, device=device))
        if self.cir_head is not None:
            view = x if tuple(x.shape[-2:]) == hw else F.interpolate(x, size=hw, mode='bilinear',
                                                                      align_corners=False, antialias=True)
            sim = teacher.encode_image(view).float() @ on['relation_features'].t()
            out['cir'], out['cir_valid'] = soft_pseudo_labels(sim, **args)
        if self.coe_head is not None:
            m, k = box_seen.shape
            out['coe'] = torch.zeros(m, k, len(on['entity_features']), device=device)
            out['coe_valid'] = torch.zeros(m, k, dtype=torch.bool, device=device)
            where = box_seen.nonzero()
            if len(where):
                crops = crop_boxes(x, where[:, 0], boxes[where[:, 0], where[:, 1]], hw)
                sim = teacher.encode_image(crops).float() @ on['entity_features'].t()
                probs, valid = soft_pseudo_labels(sim, **args)
                out['coe'][where[:, 0], where[:, 1]] = probs
                out['coe_valid'][where[:, 0], where[:, 1]] = valid
        return out

    @staticmethod
    def _boxes(samples, k: Optional[int], device):
        """The (remapped) boxes of ``samples`` in the student's view ``[m, k, 4]`` and their flags ``[m, k]``."""
        K = len(samples[0].gt_boxes_valid)
        k = K if k is None else k
        boxes = torch.as_tensor(np.asarray([np.asarray(s.gt_boxes, np.float32) for s in samples],
                                           np.float32).reshape(-1, K, 4), device=device)[:, :k]
        box_ok = torch.as_tensor(np.asarray([np.asarray(s.gt_boxes_valid, bool) for s in samples],
                                            bool).reshape(-1, K), device=device)[:, :k]
        return boxes, box_ok

    def _label_view(self, images, data_samples, matched) -> Optional[dict]:
        """Online labels of the matched pairs' views (:meth:`_online_labels`); COE: every box the crop
        kept that covers some of the image."""
        samples = [data_samples[i] for i in matched.tolist()]
        if not samples:
            return None
        boxes = box_seen = None
        if self.coe_head is not None:
            boxes, box_ok = self._boxes(samples, None, images.device)
            H, W = images.shape[-2:]
            inside = ((boxes[..., 2].clamp(max=W) > boxes[..., 0].clamp(min=0))
                      & (boxes[..., 3].clamp(max=H) > boxes[..., 1].clamp(min=0)))
            box_seen = box_ok & inside
        return self._online_labels(images[matched], boxes, box_seen)

    def _alignment(self, fused: FusionOutput, rows, data_samples, matched, images, online: Optional[dict] = None):
        """COE and CIR on the fused forward of the matched pairs.

        ``fused.*[rows]`` are the pairs ``data_samples[matched]``, each fused with its own image;
        ``images [B, 3, H, W]`` the batch's (augmented) images; ``online``: the teacher's labels of
        them (:meth:`_label_view`; ``None``: computed here when ``label_source='online'``).
        """
        device = matched.device
        if not len(matched):  # no matched pair in the batch: zero losses that keep the heads in the graph
            hidden = self.text_encoder.hidden_size
            empty = torch.zeros(0, hidden, device=device)
            out = {}
            for head in (self.cir_head, self.coe_head):
                if head is not None:
                    out.update(head.loss(empty, empty.new_zeros(0, head.num_classes),
                                         torch.zeros(0, dtype=torch.bool, device=device)))
            return out
        targets, out = self._alignment_targets(fused, rows, data_samples, matched, images, online,
                                               self.label_source)
        for name, head in (('cir', self.cir_head), ('coe', self.coe_head)):
            if head is not None:
                out.update(head.loss(*targets[name]))
        return out

    def _alignment_targets(self, fused: FusionOutput, rows, data_samples, matched, images,
                           labels: Optional[dict], label_source: str) -> Tuple[dict, dict]:
        """What COE and CIR compare, for the matched pairs (arguments as :meth:`_alignment`, at least
        one matched pair): ``{'cir': (feats [m, D], labels [m, Vr], valid [m]), 'coe': (region
        features [m*k, D], labels [m*k, Ve], valid [m*k]), 'coe_seen': boxes in view [m*k]}`` (the heads
        present), and the shares the log reports (``cir_skipped_crop``, ``cir_below_threshold``,
        ``coe_below_threshold``)."""
        device = matched.device
        image_hw = tuple(images.shape[-2:])
        samples = [data_samples[i] for i in matched.tolist()]
        m = len(samples)
        boxes = box_seen = weights = None
        online = label_source == 'online'
        if self.coe_head is not None:  # the (remapped) boxes in the student's view, and their grid weights
            grid = fused.visual[rows, 1:]  # [m, h*w, D] fused grid tokens, row-major
            k = None if online or not self.soft_labels else self.soft_labels['coe'].shape[1]
            boxes, box_ok = self._boxes(samples, k, device)  # [m, k, 4], [m, k]
            weights = box_grid_weights(boxes.reshape(-1, 4), image_hw,
                                       grid_shape(grid.shape[1], image_hw)).view(m, boxes.shape[1], -1)
            box_seen = box_ok & (weights.sum(-1) > 0)
        if online:
            if labels is None:
                labels = self._online_labels(images[matched], boxes, box_seen)
        else:
            labels = self._offline_labels(samples, boxes.shape[1] if boxes is not None else 0, device)
        known = labels['known']
        targets, out = {}, {}
        if self.cir_head is not None:
            if online:  # the teacher labelled the very crop the student sees: no pair is skipped for it
                covered = torch.ones(len(data_samples), dtype=torch.bool, device=device)
            else:
                coverage = torch.tensor([float(s.get('crop_coverage', 1.0)) for s in data_samples], device=device)
                covered = coverage >= self.cir_min_coverage
            out['cir_skipped_crop'] = (~covered).float().mean()
            # share of the matched pairs the teacher was unsure of (largest probability < threshold)
            out['cir_below_threshold'] = (known & ~labels['cir_valid']).float().mean()
            feats = fused.text[rows, 0] if self.cir_source == 'cls' else fused.visual[rows].mean(1)
            targets['cir'] = (feats, labels['cir'], labels['cir_valid'] & covered[matched])
        if self.coe_head is not None:
            region = torch.einsum('bkt,btd->bkd', weights.to(grid.dtype), grid)  # [m, k, D]
            seen = box_seen & known[:, None]
            # share of the boxes in view the teacher was unsure of
            out['coe_below_threshold'] = ((seen & ~labels['coe_valid']).float().sum()
                                          / seen.float().sum().clamp(min=1))
            targets['coe'] = (region.flatten(0, 1), labels['coe'].flatten(0, 1),
                              (labels['coe_valid'] & seen).flatten())
            targets['coe_seen'] = seen.flatten()  # the boxes in view
        return targets, out

    @torch.no_grad()
    def alignment_agreement(self, inputs: dict, data_samples) -> Dict[str, Union[int, torch.Tensor]]:
        """How often COE's and CIR's heads pick the teacher's top label, on pairs as given (a test
        split: un-augmented images, whole boxes), each matched pair fused with its own image and
        labelled by the teacher of :meth:`set_online_teacher` on that same view, whatever
        ``label_source`` the student was trained with. Counts: ``{cir,coe}_rows`` (matched pairs;
        their boxes in view), ``{cir,coe}_labelled`` (the teacher was confident), ``{cir,coe}_agree``
        (the head's argmax is the teacher's, of the labelled ones); ``{cir,coe}_teacher_top`` and
        ``{cir,coe}_student_top``: how often each label is the teacher's / the head's argmax on the
        labelled rows (``[V]`` counts). Call in eval mode."""
        inputs, data_samples = self._with_images(inputs, data_samples)
        if not self.needs_soft_labels:
            raise ValueError('the model has neither a COE nor a CIR head')
        counts = {}
        for h in ('cir', 'coe'):
            head = getattr(self, f'{h}_head')
            if head is not None:
                counts.update({f'{h}_{c}': 0 for c in ('rows', 'labelled', 'agree')})
                counts.update({f'{h}_{c}': torch.zeros(head.num_classes, dtype=torch.long)
                               for c in ('teacher_top', 'student_top')})
        mask = inputs['attention_mask']
        matched = torch.tensor([bool(s.match) for s in data_samples], device=mask.device).nonzero().squeeze(1)
        if not len(matched):
            return counts
        # a test split pairs each image with several captions (Flickr8k: 5): the teacher labels and the
        # visual encoder encodes each distinct image once
        images = inputs['images']
        keep, index = distinct_images(images, [s.img_path for s in data_samples])
        index = torch.as_tensor(index, device=mask.device)
        labels = self._label_view(images[keep], [data_samples[i] for i in keep],
                                  torch.arange(len(keep), device=mask.device))
        labels = {key: value[index[matched]] for key, value in labels.items()}
        lower = self._encode_text(inputs['input_ids'], mask)
        visual = self.visual_encoder(images[keep])[index]
        fused = self.fusion.fuse(self.text_encoder, lower[matched], mask[matched], visual[matched],
                                 torch.ones(len(matched), dtype=torch.bool, device=mask.device))
        rows = torch.arange(len(matched), device=mask.device)
        targets, out = self._alignment_targets(fused, rows, data_samples, matched, images, labels,
                                               'online')
        for name in ('cir', 'coe'):
            if name not in targets:
                continue
            feats, target, valid = targets[name]
            head = getattr(self, f'{name}_head')
            counts[f'{name}_rows'] += len(valid) if name == 'cir' else int(targets['coe_seen'].sum())
            counts[f'{name}_labelled'] += int(valid.sum())
            if valid.any():
                student, teacher = head(feats[valid]).argmax(-1), target[valid].argmax(-1)
                counts[f'{name}_agree'] += int((student == teacher).sum())
                for who, top in (('teacher', teacher), ('student', student)):
                    counts[f'{name}_{who}_top'] += torch.bincount(top.cpu(), minlength=head.num_classes)
        return counts

    def set_soft_labels(self, index: Dict[str, int], coe: torch.Tensor, coe_valid: torch.Tensor,
                        cir: torch.Tensor, cir_valid: torch.Tensor):
        """Teacher labels per image: ``index`` maps an image path to its row; ``coe [R, K, Ve]``,
        ``coe_valid [R, K]``, ``cir [R, Vr]``, ``cir_valid [R]``. Kept out of the state dict."""
        self.soft_labels = dict(index=index, coe=coe, coe_valid=coe_valid, cir=cir, cir_valid=cir_valid)

    def set_online_teacher(self, teacher: 'PromptTeacher', entity_features: torch.Tensor,
                           relation_features: torch.Tensor, tau: float,
                           image_size: Optional[Tuple[int, int]] = None):
        """The frozen teacher that labels each step's view (``label_source='online'``).

        ``entity_features [Ve, E]``, ``relation_features [Vr, E]``: its prompt features (normalised);
        ``tau``: the label temperature (a number: ``'teacher'`` resolved by the caller);
        ``image_size``: ``(w, h)`` of the teacher's input (``None``: the student's). The teacher is
        put in eval mode, its parameters stop requiring gradients, and it is kept outside the module
        tree: it is in no optimizer, no state dict and no checkpoint, and ``train()`` does not reach it.
        """
        teacher.eval()
        teacher.requires_grad_(False)
        self._online = dict(teacher=teacher, entity_features=entity_features.detach().float(),
                            relation_features=relation_features.detach().float(), tau=float(tau),
                            image_size=tuple(image_size) if image_size is not None else None)

    @property
    def online_teacher(self):
        """The teacher of :meth:`set_online_teacher`, or ``None``."""
        return self._online['teacher'] if self._online is not None else None


@MODELS.register_module()
class PromptTeacher(PromuPretrainer):
    """The prompter: text and visual encoders with ITC alone (no fusion, no other objective).

    Its checkpoint is loaded by :class:`~pmu.pseudo_labels.soft_labeler.SoftPromptLabeler`,
    which compares its features of object regions and whole images with the
    prompt features of the vocabularies (:meth:`encode_text`, :meth:`encode_image`).
    ``itc_text_layers``: ``'all'`` or the number of lower text layers of its
    ITC feature (the student's fusion split, for the official ITC split).
    """

    def __init__(self,
                 text_encoder: dict,
                 visual_encoder: dict,
                 embed_dim: int = 256,
                 text_pool: str = 'cls',
                 itc_text_layers: Union[str, int] = 'all',
                 itc_loss: dict = dict(type='ImageTextContrastiveLoss'),
                 max_length: int = 32,
                 frozen_parameters: Sequence[str] = (),
                 data_preprocessor: Optional[dict] = None,
                 init_cfg=None):
        if not itc_loss:
            raise ValueError('the teacher is trained with ITC: itc_loss is required')
        super().__init__(text_encoder, visual_encoder, fusion=None, embed_dim=embed_dim, text_pool=text_pool,
                         itc_text_layers=itc_text_layers, itc_loss=itc_loss, max_length=max_length,
                         frozen_parameters=frozen_parameters,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
