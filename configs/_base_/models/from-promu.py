# Fine-tuning from the PROMU student (configs/pretrain/promu_*_coco-mini.py, docs/pretraining.md).
# A config lists this file after the config it starts from and sets one of
#     model = dict(pretrained=_base_.from_promu.minilm_effnet)           # encoders and fusion
#     model = dict(pretrained=_base_.from_promu.minilm_effnet_encoders)  # encoders only: a fusion
#                                                                        # that PROMU did not train
# (bert_vit, bert_vit_encoders: the same for the bert-vit student). `checkpoint` is the
# student's work dir (its last checkpoint) or a .pth file; the module names are the same in
# pre-training and fine-tuning, so the key maps are identities. The load is logged.
__encoders = {'text_encoder.': 'text_encoder.', 'visual_encoder.': 'visual_encoder.'}
__all = dict(__encoders, **{'fusion.': 'fusion.'})
__minilm_effnet = 'work_dirs/promu_minilm-effnet_coco-mini'
__bert_vit = 'work_dirs/promu_bert-vit_coco-mini'
from_promu = dict(
    minilm_effnet=dict(checkpoint=__minilm_effnet, key_map=__all),
    minilm_effnet_encoders=dict(checkpoint=__minilm_effnet, key_map=__encoders),
    bert_vit=dict(checkpoint=__bert_vit, key_map=__all),
    bert_vit_encoders=dict(checkpoint=__bert_vit, key_map=__encoders))
