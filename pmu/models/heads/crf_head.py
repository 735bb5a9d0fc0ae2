from typing import List, Optional, Sequence

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from torchcrf import CRF

from pmu.registry import MODELS


def bio_transition_masks(tags: Sequence[str]):
    """Which tag sequences are valid BIO (IOB2): ``(allowed_start [T], allowed [T, T])``.

    ``I-X`` may only start nothing and follow ``B-X`` or ``I-X``; every other
    tag may start a sentence and follow anything.
    """
    for i, t in enumerate(tags):
        if t != 'O' and not (t.startswith(('B-', 'I-')) and len(t) > 2):
            raise ValueError(f"tags[{i}] = {t!r} is not a BIO tag ('O', 'B-<type>' or 'I-<type>')")
    n = len(tags)
    allowed_start = torch.ones(n, dtype=torch.bool)
    allowed = torch.ones(n, n, dtype=torch.bool)
    for j, t in enumerate(tags):
        if t.startswith('I-'):
            allowed_start[j] = False
            allowed[:, j] = torch.tensor([p in (f'B-{t[2:]}', t) for p in tags])
    return allowed_start, allowed


@MODELS.register_module()
class CRFTaggingHead(BaseModule):
    """Word-level emissions + a linear-chain CRF (pytorch-crf).

    Training maximises pytorch-crf's likelihood over all tag paths, as before
    the tags were known to the head, so checkpoints trained either way load
    and score the same. Decoding (:meth:`decode`, :meth:`predict`) and the
    confidences (:meth:`marginals`) run over the valid BIO paths only when
    ``tags`` is given: the transitions start→``I-X``, ``O``→``I-X`` and
    ``B-X``/``I-X``→``I-Y`` (Y ≠ X) are forbidden, so no orphan ``I-`` is ever
    emitted and every predicted tag belongs to an entity of the entity list.

    Args:
        in_channels: size of the word features.
        num_tags: BIO tags including ``O``.
        tags: the tag names in id order (``MultimodalNER`` passes its
            ``tags``); ``None`` decodes without BIO constraints.
        dropout: on the word features before the emission layer.
        loss_weight: scales the negative log-likelihood.
    """

    def __init__(self,
                 in_channels: int,
                 num_tags: int,
                 tags: Optional[Sequence[str]] = None,
                 dropout: float = 0.1,
                 loss_weight: float = 1.0,
                 init_cfg=None):
        super().__init__(init_cfg)
        self.dropout = nn.Dropout(dropout)
        self.emission = nn.Linear(in_channels, num_tags)
        self.crf = CRF(num_tags, batch_first=True)
        self.loss_weight = loss_weight
        self.tags = list(tags) if tags is not None else None
        if tags is None:
            allowed_start = torch.ones(num_tags, dtype=torch.bool)
            allowed = torch.ones(num_tags, num_tags, dtype=torch.bool)
        else:
            if len(self.tags) != num_tags:
                raise ValueError(f'tags has {len(self.tags)} names but num_tags is {num_tags}')
            allowed_start, allowed = bio_transition_masks(self.tags)
        # not saved: a checkpoint holds the same keys with or without constraints
        self.register_buffer('allowed_start', allowed_start, persistent=False)
        self.register_buffer('allowed', allowed, persistent=False)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        """``[B, W, C]`` word features → ``[B, W, num_tags]`` emissions.

        Always float32: the CRF's log-sum-exp over paths loses too much in bfloat16.
        """
        return self.emission(self.dropout(feats)).float()

    def loss(self, feats, mask, tags) -> dict:
        """Mean negative log-likelihood over the batch's sentences (all paths, unconstrained)."""
        nll = -self.crf(self(feats), tags, mask=mask, reduction='mean')
        return dict(loss_crf=self.loss_weight * nll)

    def predict(self, feats, mask) -> List[List[int]]:
        """Best valid paths (:meth:`decode`), one tag id per unmasked word."""
        return self.decode(self(feats), mask)

    def _scores(self, emissions: torch.Tensor):
        """Start, transition and end scores with the forbidden moves at ``-inf``."""
        neg_inf = torch.finfo(emissions.dtype).min
        start = self.crf.start_transitions.float().masked_fill(~self.allowed_start, neg_inf)
        trans = self.crf.transitions.float().masked_fill(~self.allowed, neg_inf)
        return start, trans, self.crf.end_transitions.float()

    @torch.no_grad()
    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> List[List[int]]:
        """Viterbi over ``[B, W, T]`` emissions; ``mask [B, W]`` is a prefix of each row."""
        mask = mask.bool()
        start, trans, end = self._scores(emissions)
        score = start + emissions[:, 0]  # [B, T]
        history = []
        for t in range(1, emissions.shape[1]):
            best, idx = (score[:, :, None] + trans[None]).max(1)  # [B, T]: best previous tag
            score = torch.where(mask[:, t, None], best + emissions[:, t], score)
            history.append(idx)
        score = score + end
        paths = []
        for b, length in enumerate(mask.sum(1).tolist()):
            tag = int(score[b].argmax())
            path = [tag]
            for idx in reversed(history[:length - 1]):
                tag = int(idx[b, tag])
                path.append(tag)
            paths.append(path[::-1])
        return paths

    @torch.no_grad()
    def marginals(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``P(tag of word w = t | sentence)`` by forward-backward in log space, ``[B, W, T]``.

        Over the same paths as :meth:`decode` (the valid BIO paths when the
        head knows its tags). Each unmasked word's row sums to 1; masked
        words get zeros.
        """
        mask = mask.bool()
        start, trans, end = self._scores(emissions)
        num_words = emissions.shape[1]
        alphas = [start + emissions[:, 0]]
        for t in range(1, num_words):
            nxt = torch.logsumexp(alphas[-1][:, :, None] + trans[None], dim=1) + emissions[:, t]
            alphas.append(torch.where(mask[:, t, None], nxt, alphas[-1]))
        betas = [end.expand_as(alphas[0])]
        for t in range(num_words - 2, -1, -1):
            nxt = torch.logsumexp(trans[None] + (emissions[:, t + 1] + betas[0])[:, None, :], dim=2)
            # the last word of a shorter sentence ends it
            betas.insert(0, torch.where(mask[:, t + 1, None], nxt, end.expand_as(nxt)))
        joint = torch.stack(alphas, 1) + torch.stack(betas, 1)  # [B, W, T], log unnormalised
        return joint.softmax(-1) * mask[..., None]
