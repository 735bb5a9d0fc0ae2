"""PROMU pre-training: the ITC-only teacher (prompter) and the student with ITC, ITM, COE and CIR."""
import re
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import MMLogger

from pmu.pseudo_labels.vocabulary import read_vocabulary
from pmu.registry import MODELS
from ..base import ThreeModeModel
from ..losses.matching import sample_hard_negatives
from .alignment import box_grid_weights, grid_shape, image_id


def _mlp(hidden: int, out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(), nn.LayerNorm(hidden), nn.Linear(hidden, out))


def _vocab_size(vocab) -> int:
    if vocab is None or isinstance(vocab, int):
        return vocab or 0
    return len(read_vocabulary(vocab))


@MODELS.register_module()
class PromuPretrainer(ThreeModeModel):
    """PROMU's student: encoders + fusion pre-trained with ITC, ITM, COE and CIR.

    The module names ``text_encoder``, ``visual_encoder`` and ``fusion`` are
    those of the fine-tuning models, so a checkpoint loads into MNER/MRE with
    the identity key map.

    - ITC: projected (``embed_dim``) text and image features, symmetric InfoNCE.
    - ITM: the fused [CLS] of (image, caption) → matched or not; negatives are
      the corpus's mismatched pairs plus, per matched pair, a caption and an
      image drawn from the ITC similarities (hard negatives).
    - COE: the visual tokens, in the fusion's space (``fusion.visual_proj``),
      pooled over the object's box (:func:`box_grid_weights`) → MLP → entity
      vocabulary; soft cross-entropy against the teacher's label.
    - CIR: the same tokens pooled over the whole image (the context the
      objects relate in) → MLP → relation vocabulary.

    Args:
        text_encoder, visual_encoder, fusion: as in the fine-tuning models
            (``hidden``/``visual_channels`` of the fusion are filled in).
        embed_dim: ITC projection size (256 in the paper).
        text_pool: ``'cls'`` or ``'mean'`` (sentence-transformers models such
            as MiniLM were trained with mean pooling) for the ITC text feature.
        itc_loss, itm_loss, coe_loss, cir_loss: loss configs; ``None`` leaves
            the objective (and its head) out: ablations are config files.
        entity_vocab, relation_vocab: vocabulary files of the pseudo-label
            cache (or their sizes): the output sizes of the COE/CIR heads.
        pseudo_labels: how :class:`~pmu.engine.hooks.SoftLabelHook` turns the
            teacher's similarities into labels: ``tau``, ``threshold`` (largest
            probability below it: sample ignored), ``hard`` (one-hot argmax),
            ``entity_templates``, ``relation_templates`` (PROMPTS configs).
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
                 itm_loss: Optional[dict] = None,
                 coe_loss: Optional[dict] = None,
                 cir_loss: Optional[dict] = None,
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
        self.text_encoder = MODELS.build(text_encoder)
        self.visual_encoder = MODELS.build(visual_encoder)
        hidden, channels = self.text_encoder.hidden_size, self.visual_encoder.out_channels
        if fusion is not None:
            fusion = dict(fusion)
            fusion.setdefault('hidden', hidden)
            fusion.setdefault('visual_channels', channels)
            self.fusion = MODELS.build(fusion)
        else:
            self.fusion = None
        if (itm_loss or coe_loss or cir_loss) and self.fusion is None:
            raise ValueError('ITM, COE and CIR need a fusion module (model.fusion)')
        self.text_pool = text_pool
        self.max_length = max_length
        self.text_proj = nn.Linear(hidden, embed_dim)
        self.vision_proj = nn.Linear(channels, embed_dim)
        self.itc_loss = MODELS.build(itc_loss)
        self.itm_loss = MODELS.build(itm_loss) if itm_loss else None
        self.itm_head = nn.Linear(hidden, 2) if itm_loss else None
        self.coe_loss = MODELS.build(coe_loss) if coe_loss else None
        self.cir_loss = MODELS.build(cir_loss) if cir_loss else None
        num_entities, num_relations = _vocab_size(entity_vocab), _vocab_size(relation_vocab)
        if coe_loss and not num_entities:
            raise ValueError('COE needs entity_vocab (the cache\'s entity_vocab.txt or its size)')
        if cir_loss and not num_relations:
            raise ValueError('CIR needs relation_vocab (the cache\'s relation_vocab.txt or its size)')
        self.entity_vocab, self.relation_vocab = entity_vocab, relation_vocab
        self.coe_head = _mlp(hidden, num_entities) if coe_loss else None
        self.cir_head = _mlp(hidden, num_relations) if cir_loss else None
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
        return self.coe_loss is not None or self.cir_loss is not None

    # ---- features -------------------------------------------------------------------------------
    def _pool_text(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.text_pool == 'cls':
            return states[:, 0]
        m = mask.unsqueeze(-1).to(states.dtype)
        return (states * m).sum(1) / m.sum(1).clamp(min=1)

    def text_features(self, input_ids, attention_mask):
        """Text states ``[B, L, D]`` and the normalised ITC feature ``[B, E]``."""
        states = self.text_encoder(input_ids, attention_mask)
        return states, F.normalize(self.text_proj(self._pool_text(states, attention_mask)).float(), dim=-1)

    def image_features(self, images):
        """Visual tokens ``[N, T, C]`` (global token first) and the normalised ITC feature ``[N, E]``."""
        tokens = self.visual_encoder(images)
        return tokens, F.normalize(self.vision_proj(tokens[:, 0]).float(), dim=-1)

    @torch.no_grad()
    def encode_text(self, texts: List[str]) -> torch.Tensor:
        """Sentences → normalised ITC features ``[N, E]`` (prompt features for the teacher)."""
        enc = self.text_encoder.tokenizer(list(texts), padding=True, truncation=True, max_length=self.max_length,
                                          return_tensors='pt')
        device = self.text_proj.weight.device
        return self.text_features(enc['input_ids'].to(device), enc['attention_mask'].to(device))[1]

    @torch.no_grad()
    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """Normalised (``data_preprocessor``'s mean/std) images → normalised ITC features ``[N, E]``."""
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

    def _forward(self, inputs: dict, data_samples=None):
        _, text_feat = self.text_features(inputs['input_ids'], inputs['attention_mask'])
        _, image_feat = self.image_features(inputs['images'])
        return image_feat, text_feat

    def predict(self, inputs: dict, data_samples):
        """Data samples with ``image_feat`` and ``text_feat`` (for retrieval metrics)."""
        inputs, data_samples = self._with_images(inputs, data_samples)
        if not data_samples:
            return []
        image_feat, text_feat = self._forward(inputs)
        for s, i, t in zip(data_samples, image_feat.cpu(), text_feat.cpu()):
            s.image_feat, s.text_feat = i, t
        return data_samples

    def loss(self, inputs: dict, data_samples) -> Dict[str, torch.Tensor]:
        inputs, data_samples = self._with_images(inputs, data_samples)
        if not data_samples:
            raise RuntimeError('a training batch without any readable image')
        mask = inputs['attention_mask']
        text_states, text_feat = self.text_features(inputs['input_ids'], mask)
        visual, image_feat = self.image_features(inputs['images'])
        device = text_feat.device
        image_ids = torch.tensor([image_id(s.img_path) for s in data_samples], device=device)
        match = torch.tensor([bool(s.match) for s in data_samples], device=device)
        text_image_ids = torch.where(match, image_ids, torch.full_like(image_ids, -1))

        losses = dict(loss_itc=self.itc_loss(image_feat, text_feat, image_ids, text_image_ids))
        losses['itc_temp'] = self.itc_loss.temp.detach().clone()
        if self.itm_loss is not None:
            losses.update(self._itm(text_states, mask, visual, image_feat, text_feat, image_ids, text_image_ids,
                                    match))
        if self.needs_soft_labels:
            losses.update(self._alignment(visual, inputs['images'].shape[-2:], data_samples))
        return losses

    def _itm(self, text_states, mask, visual, image_feat, text_feat, image_ids, text_image_ids, match):
        n = len(match)
        with torch.no_grad():
            temp = self.itc_loss.temp
            positive = image_ids[:, None] == text_image_ids[None, :]  # [image, text]
            neg_text = sample_hard_negatives(image_feat @ text_feat.t() / temp, positive)
            neg_image = sample_hard_negatives(text_feat @ image_feat.t() / temp, positive.t())
        own = torch.arange(n, device=match.device)
        # every pair as given (label = its match flag), then a hard negative caption for each matched
        # image and a hard negative image for each matched caption
        m_text = match & (neg_text >= 0)
        m_image = match & (neg_image >= 0)
        text_idx = torch.cat([own, neg_text[m_text], own[m_image]])
        image_idx = torch.cat([own, own[m_text], neg_image[m_image]])
        labels = torch.cat([match.long(), match.new_zeros(int(m_text.sum()) + int(m_image.sum()), dtype=torch.long)])
        fused = self.fusion(text_states[text_idx], mask[text_idx], visual[image_idx],
                            torch.ones(len(text_idx), dtype=torch.bool, device=match.device))
        logits = self.itm_head(fused[:, 0])
        acc = (logits.argmax(1) == labels).float().mean()
        return dict(loss_itm=self.itm_loss(logits, labels), itm_acc=acc.detach())

    def _lookup(self, data_samples, device):
        if self.soft_labels is None:
            raise RuntimeError('COE/CIR need the teacher\'s soft labels: add SoftLabelHook to custom_hooks '
                               '(see configs/pretrain/) or set model.coe_loss/cir_loss=None')
        return torch.tensor([self.soft_labels['index'].get(s.img_path, -1) for s in data_samples], device=device)

    def _alignment(self, visual, image_hw, data_samples):
        """COE over each kept object's box, CIR over the whole image."""
        device = visual.device
        grid = self.fusion.visual_proj(visual[:, 1:])  # [B, h*w, D] in the fusion's space
        rows = self._lookup(data_samples, device)
        known = rows >= 0
        safe = rows.clamp(min=0).cpu()
        out = {}
        if self.cir_loss is not None:
            target = self.soft_labels['cir'][safe].to(device)
            valid = self.soft_labels['cir_valid'][safe].to(device) & known
            out['loss_cir'] = self.cir_loss(self.cir_head(grid.mean(1)), target, valid)
            out['cir_labelled'] = valid.float().mean()
        if self.coe_loss is not None:
            boxes = torch.as_tensor(np.stack([np.asarray(s.gt_boxes, np.float32) for s in data_samples]),
                                    device=device)  # [B, K, 4]
            box_ok = torch.as_tensor(np.stack([np.asarray(s.gt_boxes_valid, bool) for s in data_samples]),
                                     device=device)
            B, K = box_ok.shape
            k = min(K, self.soft_labels['coe'].shape[1])
            weights = box_grid_weights(boxes[:, :k].reshape(-1, 4), tuple(image_hw),
                                       grid_shape(grid.shape[1], tuple(image_hw))).view(B, k, -1)
            region = torch.einsum('bkt,btd->bkd', weights.to(grid.dtype), grid)  # [B, k, D]
            target = self.soft_labels['coe'][safe, :k].to(device)
            valid = self.soft_labels['coe_valid'][safe, :k].to(device) & box_ok[:, :k] & known[:, None] \
                & (weights.sum(-1) > 0)
            out['loss_coe'] = self.coe_loss(self.coe_head(region).flatten(0, 1), target.flatten(0, 1),
                                            valid.flatten())
            out['coe_labelled'] = valid.float().mean()
        return out

    def set_soft_labels(self, index: Dict[str, int], coe: torch.Tensor, coe_valid: torch.Tensor,
                        cir: torch.Tensor, cir_valid: torch.Tensor):
        """Teacher labels per image: ``index`` maps an image path to its row; ``coe [R, K, Ve]``,
        ``coe_valid [R, K]``, ``cir [R, Vr]``, ``cir_valid [R]``. Kept out of the state dict."""
        self.soft_labels = dict(index=index, coe=coe, coe_valid=coe_valid, cir=cir, cir_valid=cir_valid)


@MODELS.register_module()
class PromptTeacher(PromuPretrainer):
    """The prompter: text and visual encoders with ITC alone (no fusion, no other objective).

    Its checkpoint is loaded by :class:`~pmu.engine.hooks.SoftLabelHook`, which
    compares its features of object regions and whole images with the prompt
    features of the vocabularies (:meth:`encode_text`, :meth:`encode_image`).
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
        super().__init__(text_encoder, visual_encoder, fusion=None, embed_dim=embed_dim, text_pool=text_pool,
                         itc_loss=itc_loss, max_length=max_length, frozen_parameters=frozen_parameters,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)

