from typing import Optional, Sequence

import torch
from mmengine.model import BaseDataPreprocessor

from pmu.registry import MODELS


@MODELS.register_module()
class MultimodalDataPreprocessor(BaseDataPreprocessor):
    """Pads sub-word ids, normalises the images that exist, moves to device.

    Output ``inputs``:
        ``input_ids`` / ``attention_mask``: ``[B, L]``.
        ``images``: ``[N, 3, H, W]`` float, only for the ``N`` samples that have
        an image (``None`` when no sample of the batch has one).
        ``has_image``: ``[B]`` bool, which samples those are.
        ``token_type_ids``: ``[B, L]``, the segment of each sub-word (1 on a
        caption segment, 0 elsewhere and on padding), or ``None`` when no
        sample of the batch has one.
        ``caption_ids`` / ``caption_mask``: ``[N, Lc]``, the captions encoded
        apart from their posts (``TokenizeWords(caption_segment='separate')``)
        of the ``N`` samples that have one, and ``has_caption [B]``; ``None``
        when no sample of the batch has such a caption.

    Args:
        pad_token_id: the tokenizer's pad id (0 for BERT vocabularies).
        mean, std: per-channel image normalisation, in 0-255 units.
    """

    def __init__(self,
                 pad_token_id: int = 0,
                 mean: Sequence[float] = (127.5, 127.5, 127.5),
                 std: Sequence[float] = (127.5, 127.5, 127.5),
                 non_blocking: bool = False):
        super().__init__(non_blocking)
        self.pad_token_id = pad_token_id
        self.register_buffer('mean', torch.tensor(mean).view(1, 3, 1, 1), False)
        self.register_buffer('std', torch.tensor(std).view(1, 3, 1, 1), False)

    def pad(self, ids: Sequence[torch.Tensor]):
        """``[n, L]`` sub-word ids padded with ``pad_token_id`` and their attention mask."""
        padded = torch.nn.utils.rnn.pad_sequence(list(ids), batch_first=True, padding_value=self.pad_token_id)
        lengths = torch.tensor([len(x) for x in ids])
        return padded, (torch.arange(padded.shape[1])[None] < lengths[:, None]).long()

    def forward(self, data: dict, training: bool = False) -> dict:
        inputs = data['inputs']
        ids: Sequence[torch.Tensor] = inputs['input_ids']
        input_ids, attention_mask = self.pad(ids)
        imgs = inputs.get('img') or [None] * len(ids)
        has_image = torch.tensor([im is not None for im in imgs], dtype=torch.bool)
        images: Optional[torch.Tensor] = None
        if has_image.any():
            images = torch.stack([im for im in imgs if im is not None])
        types = inputs.get('token_type_ids') or [None] * len(ids)
        token_type_ids: Optional[torch.Tensor] = None
        if any(t is not None for t in types):
            token_type_ids = torch.zeros_like(input_ids)
            for b, t in enumerate(types):
                if t is not None:
                    token_type_ids[b, :len(t)] = t
        captions = inputs.get('caption_ids') or [None] * len(ids)
        has_caption = torch.tensor([c is not None for c in captions], dtype=torch.bool)
        caption_ids = caption_mask = None
        if has_caption.any():
            caption_ids, caption_mask = self.pad([c for c in captions if c is not None])
        out = dict(
            input_ids=input_ids,
            attention_mask=attention_mask,
            has_image=has_image,
            images=images,
            token_type_ids=token_type_ids)
        if caption_ids is not None:
            out.update(caption_ids=caption_ids, caption_mask=caption_mask, has_caption=has_caption)
        out = self.cast_data(out)
        if out['images'] is not None:
            out['images'] = (out['images'].float() - self.mean) / self.std
        return dict(inputs=out, data_samples=data.get('data_samples'))
