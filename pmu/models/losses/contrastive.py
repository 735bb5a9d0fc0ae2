"""Image–text contrastive loss (ITC) with a learnable, clamped temperature."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from pmu.registry import MODELS


def gather_features(local: torch.Tensor) -> torch.Tensor:
    """All ranks' ``local`` tensors concatenated in rank order; this rank's slice keeps its gradient.

    Without an initialised process group (one process) it is ``local`` itself.
    The other ranks' slices carry no gradient: each rank back-propagates through
    its own rows, as in ALBEF/open_clip's local loss. Ranks may hold different
    numbers of rows (pairs without a readable image are dropped).
    """
    import torch.distributed as dist
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return local
    world = dist.get_world_size()
    sizes = [torch.zeros(1, dtype=torch.long, device=local.device) for _ in range(world)]
    dist.all_gather(sizes, torch.tensor([len(local)], device=local.device))
    sizes = [int(n) for n in sizes]
    padded = local.detach().new_zeros((max(sizes), ) + local.shape[1:])
    padded[:len(local)] = local.detach()
    parts = [torch.zeros_like(padded) for _ in range(world)]
    dist.all_gather(parts, padded.contiguous())
    parts = [p[:n] for p, n in zip(parts, sizes)]
    parts[dist.get_rank()] = local
    return torch.cat(parts)


@MODELS.register_module()
class ImageTextContrastiveLoss(nn.Module):
    """Symmetric InfoNCE between L2-normalised image and text features.

    Only matched pairs are positives: text ``j`` is positive for image ``i`` when
    the caption was paired with that very image and the pair is matched
    (``text_image_ids[j] == image_ids[i]``; mismatched captions carry ``-1``).
    Several captions of one image in a batch are all positives of it (the
    target spreads evenly over them); rows without any positive are left out.
    Under DDP the features and ids of all ranks form the columns
    (:func:`gather_features`); each rank's own samples form the rows.

    Args:
        temperature: initial value of the learnable temperature.
        temperature_range: it is clamped into this range before every use.
        loss_weight: factor on the loss.
    Forward: ``image_feats [B, D]``, ``text_feats [B, D]``, ``image_ids [B]``,
    ``text_image_ids [B]`` (int64) → scalar.
    """

    def __init__(self, temperature: float = 0.07, temperature_range=(0.001, 0.5), loss_weight: float = 1.0):
        super().__init__()
        self.temp = nn.Parameter(torch.tensor(float(temperature)))
        self.temperature_range = tuple(temperature_range)
        self.loss_weight = loss_weight

    def clamp_temperature(self) -> torch.Tensor:
        with torch.no_grad():
            self.temp.clamp_(*self.temperature_range)
        return self.temp

    def similarity(self, image_feats, text_feats, image_ids, text_image_ids):
        """Logits ``image→all texts`` and ``text→all images`` with their positive masks."""
        temp = self.clamp_temperature()
        all_text, all_image = gather_features(text_feats), gather_features(image_feats)
        all_text_ids, all_image_ids = gather_features(text_image_ids), gather_features(image_ids)
        i2t = image_feats @ all_text.t() / temp
        t2i = text_feats @ all_image.t() / temp
        i2t_pos = image_ids[:, None] == all_text_ids[None, :]
        t2i_pos = (text_image_ids[:, None] == all_image_ids[None, :]) & (text_image_ids[:, None] >= 0)
        return i2t, i2t_pos, t2i, t2i_pos

    @staticmethod
    def _info_nce(logits, pos):
        rows = pos.any(1)
        if not rows.any():
            return logits.sum() * 0.0
        target = pos[rows].float()
        target = target / target.sum(1, keepdim=True)
        return -(target * F.log_softmax(logits[rows].float(), dim=1)).sum(1).mean()

    def forward(self, image_feats, text_feats, image_ids, text_image_ids) -> torch.Tensor:
        i2t, i2t_pos, t2i, t2i_pos = self.similarity(image_feats, text_feats, image_ids, text_image_ids)
        loss = (self._info_nce(i2t, i2t_pos) + self._info_nce(t2i, t2i_pos)) / 2
        return loss * self.loss_weight
