import inspect
from typing import List, Optional, Sequence

import torch

from pmu.registry import MODELS
from pmu.structures import PMUDataSample
from .base import MultimodalTaskModel


@MODELS.register_module()
class MultimodalNER(MultimodalTaskModel):
    """Multimodal NER: encoders → fusion → first sub-word of each word → CRF.

    Args:
        tags: the BIO tag inventory, ``O`` first (see ``pmu.datasets.bio_tags``).
        head: e.g. ``dict(type='CRFTaggingHead')``; ``in_channels`` and
            ``num_tags`` are filled in, and ``tags`` for a head that takes
            them (the CRF then decodes valid BIO paths only).
        Others as :class:`MultimodalTaskModel`.

    Modes of ``forward``: ``loss`` → dict of losses; ``predict`` → data samples
    with ``pred_tags`` and ``pred_emissions``; ``tensor`` → emissions ``[B, W, num_tags]``.
    """

    def __init__(self, tags: Sequence[str], head: dict, **kwargs):
        super().__init__(**kwargs)
        self.tags = list(tags)
        if self.tags[0] != 'O':
            raise ValueError(f"tags must start with 'O', got {self.tags[:3]}")
        self.tag2id = {t: i for i, t in enumerate(self.tags)}
        head = dict(head)
        head.setdefault('in_channels', self.hidden_size)
        head.setdefault('num_tags', len(self.tags))
        head_cls = MODELS.get(head['type']) if isinstance(head['type'], str) else head['type']
        if head_cls is not None and 'tags' in inspect.signature(head_cls).parameters:
            head.setdefault('tags', self.tags)
        self.head = MODELS.build(head)

    def word_features(self, inputs, data_samples: List[PMUDataSample]):
        """Gather each kept word's first sub-word state.

        Returns ``feats [B, W, D]`` and ``mask [B, W]``, where words cut off by
        truncation are masked out (and later predicted ``O``).
        """
        fused = self.extract_feat(inputs)
        max_words = max(len(s.word_ids) for s in data_samples)
        index = torch.zeros(len(data_samples), max_words, dtype=torch.long, device=fused.device)
        mask = torch.zeros_like(index, dtype=torch.bool)
        for b, s in enumerate(data_samples):
            kept = [i for i in s.word_ids if i >= 0]
            index[b, :len(kept)] = torch.tensor(kept, device=fused.device)
            mask[b, :len(kept)] = True
        feats = fused.gather(1, index[..., None].expand(-1, -1, fused.shape[-1]))
        return feats, mask

    def loss(self, inputs: dict, data_samples: List[PMUDataSample]) -> dict:
        feats, mask = self.word_features(inputs, data_samples)
        tags = torch.zeros_like(mask, dtype=torch.long)
        for b, s in enumerate(data_samples):
            kept = [self.tag2id[t] for t, i in zip(s.gt_tags, s.word_ids) if i >= 0]
            tags[b, :len(kept)] = torch.tensor(kept, device=tags.device)
        return self.head.loss(feats, mask, tags)

    def predict(self, inputs: dict, data_samples: List[PMUDataSample]) -> List[PMUDataSample]:
        """``pred_tags`` (one tag per word; words cut off by truncation are ``O``) and
        ``pred_emissions`` (``[kept words, num_tags]``, float32 on the CPU: the scores the head
        decoded, which a caller can decode again over a longer text or turn into marginals)."""
        feats, mask = self.word_features(inputs, data_samples)
        emissions = self.head(feats)
        paths = self.head.decode(emissions, mask)
        tags, kept_emissions = [], []
        for b, (s, path) in enumerate(zip(data_samples, paths)):
            kept = iter(path)
            tags.append([self.tags[next(kept)] if i >= 0 else 'O' for i in s.word_ids])
            kept_emissions.append(emissions[b, :len(path)].detach().float().cpu())
        return self.add_pred_to_datasample(data_samples, pred_tags=tags, pred_emissions=kept_emissions)

    def _forward(self, inputs: dict, data_samples: Optional[List[PMUDataSample]] = None):
        feats, _ = self.word_features(inputs, data_samples)
        return self.head(feats)
