# Ablation: COE and CIR trained with KL(teacher || head) instead of the soft cross-entropy (same
# gradient, a loss that reads 0 at a perfect fit).
_base_ = './promu_minilm-effnet_coco-mini.py'
model = dict(coe_head=dict(loss=dict(type='KLDivergenceLoss')), cir_head=dict(loss=dict(type='KLDivergenceLoss')))
