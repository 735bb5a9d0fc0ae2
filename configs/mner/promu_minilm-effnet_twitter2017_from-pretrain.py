# promu_minilm-effnet_twitter2017.py initialised from PROMU pre-training: the text
# encoder, the visual encoder and the fusion load from the student's checkpoint
# (configs/pretrain/promu_minilm-effnet_coco-mini.py), whose module names are the same
# (identity key map); the CRF head starts fresh. The load logs how many tensors were
# loaded and which keys were missing, unexpected or of another shape.
# One key points elsewhere: --cfg-options model.pretrained.checkpoint=PATH
_base_ = './promu_minilm-effnet_twitter2017.py'
pretrain_checkpoint = 'work_dirs/promu_minilm-effnet_coco-mini/epoch_3.pth'
model = dict(
    pretrained=dict(
        checkpoint=pretrain_checkpoint,
        key_map={'text_encoder.': 'text_encoder.', 'visual_encoder.': 'visual_encoder.', 'fusion.': 'fusion.'}))
