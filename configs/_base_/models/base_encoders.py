# The paper's backbones: bert-base-uncased and ViT-B/16 (ImageNet-21k).
# They are fetched from the Hugging Face hub on first use (or set name_or_path
# to a local folder); a GPU is advised.
text_encoder_name = 'bert-base-uncased'
text_encoder = dict(type='HFTextEncoder', name_or_path=text_encoder_name)
visual_encoder = dict(type='HFVisionEncoder', name_or_path='google/vit-base-patch16-224-in21k')
fusion_heads = 12
image_size = (224, 224)
max_length = 128
# ViT-in21k expects (x - 127.5) / 127.5
data_preprocessor = dict(
    type='MultimodalDataPreprocessor', pad_token_id=0, mean=[127.5] * 3, std=[127.5] * 3)
