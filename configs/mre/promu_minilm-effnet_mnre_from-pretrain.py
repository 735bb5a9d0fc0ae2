# promu_minilm-effnet_mnre.py initialised from PROMU pre-training (see
# configs/mner/promu_minilm-effnet_twitter2017_from-pretrain.py). The MRE tokenizer
# adds four entity markers, so the word embeddings differ in shape: they are reported
# as "shape mismatch (skipped)" and keep MiniLM's; every other encoder and fusion
# tensor loads. One key points elsewhere: --cfg-options model.pretrained.checkpoint=PATH
_base_ = './promu_minilm-effnet_mnre.py'
pretrain_checkpoint = 'work_dirs/promu_minilm-effnet_coco-mini/epoch_3.pth'
model = dict(
    pretrained=dict(
        checkpoint=pretrain_checkpoint,
        key_map={'text_encoder.': 'text_encoder.', 'visual_encoder.': 'visual_encoder.', 'fusion.': 'fusion.'}))
