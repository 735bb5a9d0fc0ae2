# umt_bert-vit_mnre.py with the encoders initialised from the PROMU student
# (configs/pretrain/promu_bert-vit_coco-mini.py); the fusion, which PROMU did not train, starts fresh.
_base_ = ['./umt_bert-vit_mnre.py', '../_base_/models/from-promu.py']
model = dict(pretrained=_base_.from_promu.bert_vit_encoders)
