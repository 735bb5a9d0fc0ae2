# promu_minilm-effnet_twitter2015.py with its encoders and fusion initialised from the PROMU
# student (configs/pretrain/promu_minilm-effnet_coco-mini.py); the CRF head starts fresh.
_base_ = ['./promu_minilm-effnet_twitter2015.py', '../_base_/models/from-promu.py']
model = dict(pretrained=_base_.from_promu.minilm_effnet)
