"""PROMU pre-training: the ITC-only teacher (prompter) and the student with ITC, ITM, COE and CIR."""
import re
from typing import Dict, List, Optional, Sequence

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
from .alignment import box_grid_weights, grid_shape, image_id


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

    - ITC: the caption alone (the whole text encoder, pooled by ``text_pool``)
      and the image's global token, projected to ``embed_dim``; symmetric
      InfoNCE (``itc_loss``).
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
      vocabulary (``cir_head``). Samples whose random crop kept less than
      ``cir_min_coverage`` of the image (metainfo ``crop_coverage``) are
      skipped: the teacher labelled the whole image, the student sees the crop.

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
        itc_loss: ``ImageTextContrastiveLoss`` config, ``None`` to leave ITC out
            (then there are no ITC features: no retrieval in ``predict``).
        itm_head: ``ITMHead`` config (with its ``loss``), ``None``: no ITM.
        coe_head, cir_head: ``SoftAlignmentHead`` configs (with their
            ``loss``), ``None``: no COE / CIR. Sizes and names are filled in.
        itm_hard_negatives: mine ITM negatives from the ITC similarities.
        cir_source: ``'cls'`` or ``'visual_mean'``.
        cir_min_coverage: smallest share of the original image's area a crop
            must keep for CIR to use the sample.
        entity_vocab, relation_vocab: vocabulary files of the pseudo-label
            cache (or their sizes): the output sizes of the COE/CIR heads.
        pseudo_labels: how the teacher's similarities become labels
            (:class:`~pmu.pseudo_labels.soft_labeler.SoftPromptLabeler`): ``tau`` (a
            number, or ``'teacher'``: the teacher's learned ITC temperature),
            ``threshold`` (largest probability below it: sample ignored),
            ``hard`` (one-hot argmax), ``entity_templates``,
            ``relation_templates`` (PROMPTS configs).
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
                 itc_loss: Optional[dict] = dict(type='ImageTextContrastiveLoss'),
                 itm_head: Optional[dict] = None,
                 coe_head: Optional[dict] = None,
                 cir_head: Optional[dict] = None,
                 itm_hard_negatives: bool = True,
                 cir_source: str = 'cls',
                 cir_min_coverage: float = 0.5,
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
        self.text_encoder = MODELS.build(text_encoder)
        self.visual_encoder = MODELS.build(visual_encoder)
        hidden, channels = self.text_encoder.hidden_size, self.visual_encoder.out_channels
        self.fusion = build_fusion(fusion, self.text_encoder, self.visual_encoder) if fusion is not None else None
        if (itm_head or coe_head or cir_head) and self.fusion is None:
            raise ValueError('ITM, COE and CIR need a fusion module (model.fusion)')
        if not (itc_loss or itm_head or coe_head or cir_head):
            raise ValueError('no objective left: set at least one of itc_loss, itm_head, coe_head, cir_head')
        self.text_pool = text_pool
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
        self.pseudo_labels = dict(tau=0.02, threshold=0.2, hard=False, entity_templates=dict(type='promu_entity'),
                                  relation_templates=dict(type='promu_relation'))
        self.pseudo_labels.update(pseudo_labels or {})
        self.soft_labels: Optional[dict] = None
        self.frozen_parameters = tuple(frozen_parameters)
        for name, param in self.named_parameters():
            if any(re.match(p, name) for p in self.frozen_parameters):
                param.requires_grad_(False)

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
        encoder without a fusion)."""
        if self.fusion is None:
            return self.text_encoder(input_ids, attention_mask)
        return self.fusion.encode_text(self.text_encoder, input_ids, attention_mask)

    def _text_alone(self, lower, attention_mask):
        """The caption's states without any image: the whole text encoder."""
        if self.fusion is None:
            return lower
        return self.fusion.fuse(self.text_encoder, lower, attention_mask).text

    def _text_feat(self, states, attention_mask):
        return F.normalize(self.text_proj(self._pool_text(states, attention_mask)).float(), dim=-1)

    def _image_feat(self, tokens):
        return F.normalize(self.vision_proj(tokens[:, 0]).float(), dim=-1)

    def text_features(self, input_ids, attention_mask):
        """Text states ``[B, L, D]`` (the text encoder alone) and the normalised ITC feature ``[B, E]``."""
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
        image_feat, text_feat = self._forward(inputs)
        return self.add_pred_to_datasample(data_samples, pred_image_feat=list(image_feat.cpu()),
                                           pred_text_feat=list(text_feat.cpu()))

    def loss(self, inputs: dict, data_samples) -> Dict[str, torch.Tensor]:
        inputs, data_samples = self._with_images(inputs, data_samples)
        if not data_samples:
            raise RuntimeError('a training batch without any readable image')
        mask = inputs['attention_mask']
        # the image-independent part of the captions, computed once for every use below
        lower, visual = self.extract_feat(inputs)
        device = visual.device
        image_ids = torch.tensor([image_id(s.img_path) for s in data_samples], device=device)
        match = torch.tensor([bool(s.match) for s in data_samples], device=device)
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
            losses.update(self._alignment(fused, own_rows, data_samples, matched, inputs['images'].shape[-2:]))
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

    def _alignment(self, fused: FusionOutput, rows, data_samples, matched, image_hw):
        """COE and CIR on the fused forward of the matched pairs.

        ``fused.*[rows]`` are the pairs ``data_samples[matched]``, each fused with its own image.
        """
        device = matched.device
        samples = [data_samples[i] for i in matched.tolist()]
        if not samples:  # no matched pair in the batch: zero losses that keep the heads in the graph
            hidden = self.text_encoder.hidden_size
            empty = torch.zeros(0, hidden, device=device)
            out = {}
            for head in (self.cir_head, self.coe_head):
                if head is not None:
                    out.update(head.loss(empty, empty.new_zeros(0, head.num_classes),
                                         torch.zeros(0, dtype=torch.bool, device=device)))
            return out
        label_rows = self._lookup(samples, device)
        known = label_rows >= 0
        safe = label_rows.clamp(min=0).cpu()
        out = {}
        if self.cir_head is not None:
            coverage = torch.tensor([float(s.get('crop_coverage', 1.0)) for s in data_samples], device=device)
            covered = coverage >= self.cir_min_coverage
            out['cir_skipped_crop'] = (~covered).float().mean()
            if self.cir_source == 'cls':
                feats = fused.text[rows, 0]
            else:
                feats = fused.visual[rows].mean(1)
            target = self.soft_labels['cir'][safe].to(device)
            valid = self.soft_labels['cir_valid'][safe].to(device) & known & covered[matched]
            out.update(self.cir_head.loss(feats, target, valid))
        if self.coe_head is not None:
            grid = fused.visual[rows, 1:]  # [m, h*w, D] fused grid tokens, row-major
            K = len(data_samples[0].gt_boxes_valid)
            boxes = torch.as_tensor(np.asarray([np.asarray(s.gt_boxes, np.float32) for s in samples],
                                               np.float32).reshape(-1, K, 4), device=device)  # [m, K, 4]
            box_ok = torch.as_tensor(np.asarray([np.asarray(s.gt_boxes_valid, bool) for s in samples],
                                                bool).reshape(-1, K), device=device)
            m = len(samples)
            k = min(K, self.soft_labels['coe'].shape[1])
            weights = box_grid_weights(boxes[:, :k].reshape(-1, 4), tuple(image_hw),
                                       grid_shape(grid.shape[1], tuple(image_hw))).view(m, k, -1)
            region = torch.einsum('bkt,btd->bkd', weights.to(grid.dtype), grid)  # [m, k, D]
            target = self.soft_labels['coe'][safe, :k].to(device)
            valid = self.soft_labels['coe_valid'][safe, :k].to(device) & box_ok[:, :k] & known[:, None] \
                & (weights.sum(-1) > 0)
            out.update(self.coe_head.loss(region.flatten(0, 1), target.flatten(0, 1), valid.flatten()))
        return out

    def set_soft_labels(self, index: Dict[str, int], coe: torch.Tensor, coe_valid: torch.Tensor,
                        cir: torch.Tensor, cir_valid: torch.Tensor):
        """Teacher labels per image: ``index`` maps an image path to its row; ``coe [R, K, Ve]``,
        ``coe_valid [R, K]``, ``cir [R, Vr]``, ``cir_valid [R]``. Kept out of the state dict."""
        self.soft_labels = dict(index=index, coe=coe, coe_valid=coe_valid, cir=cir, cir_valid=cir_valid)


@MODELS.register_module()
class PromptTeacher(PromuPretrainer):
    """The prompter: text and visual encoders with ITC alone (no fusion, no other objective).

    Its checkpoint is loaded by :class:`~pmu.pseudo_labels.soft_labeler.SoftPromptLabeler`,
    which compares its features of object regions and whole images with the
    prompt features of the vocabularies (:meth:`encode_text`, :meth:`encode_image`).
    """

    def __init__(self,
                 text_encoder: dict,
                 visual_encoder: dict,
                 embed_dim: int = 256,
                 text_pool: str = 'cls',
                 itc_loss: dict = dict(type='ImageTextContrastiveLoss'),
                 max_length: int = 32,
                 frozen_parameters: Sequence[str] = (),
                 data_preprocessor: Optional[dict] = None,
                 init_cfg=None):
        if not itc_loss:
            raise ValueError('the teacher is trained with ITC: itc_loss is required')
        super().__init__(text_encoder, visual_encoder, fusion=None, embed_dim=embed_dim, text_pool=text_pool,
                         itc_loss=itc_loss, max_length=max_length, frozen_parameters=frozen_parameters,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
