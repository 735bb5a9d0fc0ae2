"""Writing a caption for a post's image, for models trained with captions (:mod:`pmu.datasets.captions`)."""
from typing import List, Optional, Sequence

import torch
from mmengine.logging import MMLogger
from mmengine.model import BaseModule

from pmu.registry import MODELS
from pmu.utils.hf import load_pretrained_model
from pmu.utils.image import load_image


@MODELS.register_module()
class HFCaptioner(BaseModule):
    """A transformers image-to-text model (BLIP, BLIP-2, GIT, ...) that captions images.

    The inferencers call it for a post that has an image but no caption when
    their model was trained with captions, so that a new post gets the same
    kind of input as the training data (whose captions came from BLIP-2, CATR,
    BLIP and others: prefer the captioner of the training data).

    >>> captioner = HFCaptioner('Salesforce/blip-image-captioning-base')
    >>> captioner(['post.jpg'])
    ['a basketball player holding a trophy']

    Args:
        name_or_path: hub name or local folder of a model that
            ``AutoModelForImageTextToText`` and ``AutoProcessor`` load
            (needs the hub or its cache on first use).
        max_new_tokens: caption length limit, in the model's tokens.
        num_beams: beam search width (1: greedy).
        prompt: a text the caption continues (BLIP: e.g. ``'a picture of'``);
            it is kept at the start of the caption as BLIP returns it.
        device: where the model runs.
    """

    def __init__(self,
                 name_or_path: str = 'Salesforce/blip-image-captioning-base',
                 max_new_tokens: int = 30,
                 num_beams: int = 1,
                 prompt: Optional[str] = None,
                 device: str = 'cpu',
                 init_cfg=None):
        super().__init__(init_cfg)
        from transformers import AutoModelForImageTextToText, AutoProcessor
        self.name_or_path = name_or_path
        self.processor = load_pretrained_model(AutoProcessor, name_or_path)
        self.model = load_pretrained_model(AutoModelForImageTextToText, name_or_path).to(device).eval()
        self.max_new_tokens, self.num_beams, self.prompt = max_new_tokens, num_beams, prompt
        self.device = device

    @torch.no_grad()
    def forward(self, image_paths: Sequence[str]) -> List[Optional[str]]:
        """One caption per image; ``None`` for an image that is missing or does not load (logged)."""
        loaded = [(i, load_image(p)) for i, p in enumerate(image_paths)]
        ok = [(i, r) for i, r in loaded if r.ok]
        for (i, r) in loaded:
            if not r.ok:
                MMLogger.get_current_instance().warning(
                    f'{type(self).__name__}: image {image_paths[i]} {r.status} ({r.reason}): no caption')
        captions: List[Optional[str]] = [None] * len(image_paths)
        if not ok:
            return captions
        images = [r.image for _, r in ok]
        kwargs = dict(images=images, return_tensors='pt')
        if self.prompt:
            kwargs['text'] = [self.prompt] * len(images)
        inputs = self.processor(**kwargs).to(self.device)
        out = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, num_beams=self.num_beams)
        for (i, _), text in zip(ok, self.processor.batch_decode(out, skip_special_tokens=True)):
            captions[i] = ' '.join(text.split()) or None
        return captions
