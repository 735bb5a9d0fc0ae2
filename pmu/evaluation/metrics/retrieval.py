"""Image–text retrieval recall (R@K) in both directions, from ITC features."""
from typing import Dict, Sequence

import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from pmu.registry import METRICS


def retrieval_recall(image_feats: torch.Tensor, text_feats: torch.Tensor, text_to_image: Sequence[int],
                     ks: Sequence[int] = (1, 5, 10)) -> Dict[str, float]:
    """R@K (in %) of text→image and image→text retrieval by cosine similarity.

    ``image_feats [I, D]`` (one row per distinct image), ``text_feats [T, D]``,
    ``text_to_image[t]``: the image caption ``t`` describes. Text→image: a
    caption is a hit when its image ranks in the top K. Image→text: an image is
    a hit when any of its captions ranks in the top K (as in COCO/Flickr
    retrieval benchmarks).
    """
    sim = image_feats.float() @ text_feats.float().t()  # [I, T]
    gt = torch.as_tensor(list(text_to_image), dtype=torch.long)
    # rank of the true image for each caption: images scoring strictly higher
    t2i_rank = (sim.t() > sim.t().gather(1, gt[:, None])).sum(1)
    own = gt[None, :] == torch.arange(len(image_feats))[:, None]  # [I, T]
    best_own = sim.masked_fill(~own, float('-inf')).max(1).values  # best-scoring own caption per image
    i2t_rank = (sim > best_own[:, None]).sum(1)
    has_caption = own.any(1)
    out = {}
    for k in ks:
        out[f't2i_R@{k}'] = 100.0 * float((t2i_rank < k).float().mean())
        out[f'i2t_R@{k}'] = 100.0 * float((i2t_rank[has_caption] < k).float().mean())
    out['mean_R@1'] = (out['t2i_R@1'] + out['i2t_R@1']) / 2 if 1 in ks else 0.0
    return out


@METRICS.register_module()
class RetrievalMetric(BaseMetric):
    """Image–text retrieval R@1/5/10 over a pair dataset (e.g. COCO-mini val).

    Reads ``pred_image_feat``/``pred_text_feat`` that :class:`~pmu.models.PromuPretrainer`
    puts into the data samples in ``predict`` mode; images are identified by
    ``img_path``. Only matched pairs are queries (a mismatched caption has no
    image to find).
    """

    default_prefix = 'retrieval'

    def __init__(self, ks: Sequence[int] = (1, 5, 10), collect_device='cpu', prefix=None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.ks = tuple(ks)

    def process(self, data_batch, data_samples):
        for s in data_samples:
            get = s.get if isinstance(s, dict) else (lambda k, d=None, s=s: getattr(s, k, d))
            if get('match', True):
                self.results.append((get('img_path'), get('pred_image_feat').cpu(), get('pred_text_feat').cpu()))

    def compute_metrics(self, results) -> Dict[str, float]:
        index, image_feats = {}, []
        for path, image_feat, _ in results:
            if path not in index:
                index[path] = len(image_feats)
                image_feats.append(image_feat)
        scores = retrieval_recall(torch.stack(image_feats), torch.stack([r[2] for r in results]),
                                  [index[r[0]] for r in results], self.ks)
        MMLogger.get_current_instance().info(
            f'retrieval over {len(image_feats)} images and {len(results)} captions: '
            + ', '.join(f'{k} {v:.1f}' for k, v in scores.items()))
        return scores
