# hvpnet_minilm-effnet_twitter2017.py with the encoders initialised from the PROMU student
# (configs/pretrain/promu_minilm-effnet_coco-mini.py); the fusion, which PROMU did not train, starts fresh.
_base_ = ['./hvpnet_minilm-effnet_twitter2017.py', '../_base_/models/from-promu.py']
model = dict(pretrained=_base_.from_promu.minilm_effnet_encoders)
