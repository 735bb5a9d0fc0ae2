import torch

from pmu.models import HFVisionEncoder


def test_vision_encoders_from_local_vit_and_clip_folders(tmp_path):
    """The base configs' ViT/CLIP path, on tiny random models saved locally
    (the real ViT-B/16 needs the hub, which tests may not reach)."""
    from transformers import CLIPConfig, CLIPModel, ViTConfig, ViTModel
    small = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                 image_size=32, patch_size=16)
    ViTModel(ViTConfig(**small)).save_pretrained(tmp_path / 'vit')
    CLIPModel(CLIPConfig(vision_config=small, text_config=dict(
        hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64),
        projection_dim=16)).save_pretrained(tmp_path / 'clip')
    images = torch.randn(2, 3, 32, 32)
    for name in ('vit', 'clip'):
        enc = HFVisionEncoder(str(tmp_path / name))
        tokens = enc(images)
        assert enc.out_channels == 32
        assert tokens.shape == (2, 1 + 4, 32)  # [CLS] + 2x2 patches
        assert not hasattr(enc.model, 'text_model')  # CLIP: the vision tower only
