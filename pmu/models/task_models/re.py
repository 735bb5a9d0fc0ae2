from typing import List, Optional, Sequence, Tuple

import torch

from pmu.registry import MODELS
from pmu.structures import PMUDataSample
from .base import MultimodalTaskModel


@MODELS.register_module()
class MultimodalRE(MultimodalTaskModel):
    """Multimodal RE: encoders → fusion → ``<e1>`` and ``<e2>`` marker states → MLP.

    The pipeline puts ``<e1> head </e1>`` and ``<e2> tail </e2>`` into the post
    (:class:`pmu.datasets.transforms.InsertEntityMarkers`); the text encoder
    must know the markers (``extra_special_tokens``) so that each is one
    sub-word with its own, trained embedding.

    Args:
        relations: the relation inventory in ``rel2id.json`` order, ``None``
            included.
        head: e.g. ``dict(type='RelationClassificationHead')``;
            ``in_channels`` and ``num_classes`` are filled in.
        Others as :class:`MultimodalTaskModel`.

    Modes of ``forward``: ``loss`` → ``dict(loss_rel=...)``; ``predict`` → data
    samples with ``pred_relation`` and ``pred_scores`` (probabilities over
    ``relations``); ``tensor`` → logits ``[B, num_relations]``.
    """

    def __init__(self, relations: Sequence[str], head: dict, **kwargs):
        super().__init__(**kwargs)
        if not relations:
            raise ValueError('relations must list the relation inventory (rel2id.json order); '
                             'the dataset config sets it')
        self.relations = list(relations)
        self.rel2id = {r: i for i, r in enumerate(self.relations)}
        head = dict(head)
        head.setdefault('in_channels', self.hidden_size)
        head.setdefault('num_classes', len(self.relations))
        self.head = MODELS.build(head)

    def entity_features(self, inputs: dict,
                        data_samples: List[PMUDataSample]) -> Tuple[torch.Tensor, torch.Tensor]:
        """Fused states of the ``<e1>`` and ``<e2>`` markers, ``[B, D]`` each.

        A marker lost to truncation (counted and logged by the dataset; the
        marker transform's window makes it rare) falls back to ``[CLS]``.
        """
        fused = self.extract_feat(inputs)
        index = torch.tensor(
            [[max(s.word_ids[s.head_marker], 0), max(s.word_ids[s.tail_marker], 0)]
             for s in data_samples],
            dtype=torch.long, device=fused.device)  # [B, 2]
        batch = torch.arange(len(data_samples), device=fused.device)
        return fused[batch, index[:, 0]], fused[batch, index[:, 1]]

    def loss(self, inputs: dict, data_samples: List[PMUDataSample]) -> dict:
        head_feats, tail_feats = self.entity_features(inputs, data_samples)
        labels = torch.tensor([self._label(s.gt_relation) for s in data_samples],
                              dtype=torch.long, device=head_feats.device)
        return self.head.loss(head_feats, tail_feats, labels)

    def predict(self, inputs: dict, data_samples: List[PMUDataSample]) -> List[PMUDataSample]:
        probs = self.head.predict(*self.entity_features(inputs, data_samples)).float().cpu()
        return self.add_pred_to_datasample(data_samples, pred_scores=list(probs),
                                           pred_relation=[self.relations[int(p.argmax())] for p in probs])

    def _forward(self, inputs: dict, data_samples: Optional[List[PMUDataSample]] = None):
        return self.head(*self.entity_features(inputs, data_samples))

    def _label(self, relation: str) -> int:
        try:
            return self.rel2id[relation]
        except KeyError:
            raise ValueError(f'gold relation {relation!r} is not in model.relations '
                             f'({len(self.relations)} relations); the dataset\'s rel2id.json '
                             'and the config disagree') from None
