# promu_bert-vit_mnre.py with its encoders and fusion initialised from the PROMU student
# (configs/pretrain/promu_bert-vit_coco-mini.py); the relation head starts fresh. The
# four entity markers enlarge the word embeddings: the pre-trained rows load, the
# markers' rows keep their initialisation (the load log says so).
_base_ = ['./promu_bert-vit_mnre.py', '../_base_/models/from-promu.py']
model = dict(pretrained=_base_.from_promu.bert_vit)
