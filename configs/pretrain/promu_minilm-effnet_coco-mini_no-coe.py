# Ablation: without the object-entity alignment (COE); everything else as the full model.
_base_ = './promu_minilm-effnet_coco-mini.py'
model = dict(coe_head=None)
