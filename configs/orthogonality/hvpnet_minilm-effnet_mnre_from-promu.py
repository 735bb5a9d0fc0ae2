# hvpnet_minilm-effnet_mnre.py with the encoders initialised from the PROMU student
# (configs/pretrain/promu_minilm-effnet_coco-mini.py); the fusion, which PROMU did not train, starts fresh.
_base_ = ['./hvpnet_minilm-effnet_mnre.py', '../_base_/models/from-promu.py']
model = dict(pretrained=_base_.from_promu.minilm_effnet_encoders)
