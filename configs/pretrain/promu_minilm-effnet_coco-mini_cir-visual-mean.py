# Ablation: CIR from the mean of the fused visual tokens (the official code) instead of the fused
# [CLS] (the paper).
_base_ = './promu_minilm-effnet_coco-mini.py'
model = dict(cir_source='visual_mean')
