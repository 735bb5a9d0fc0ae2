# promu_bert-vit_twitter2015.py with its encoders and fusion initialised from the PROMU
# student (configs/pretrain/promu_bert-vit_coco-mini.py); the CRF head starts fresh.
_base_ = ['./promu_bert-vit_twitter2015.py', '../_base_/models/from-promu.py']
model = dict(pretrained=_base_.from_promu.bert_vit)
