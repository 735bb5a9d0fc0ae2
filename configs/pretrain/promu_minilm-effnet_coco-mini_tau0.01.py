# Ablation: soft-label temperature tau = 0.01, below the default: sharper labels; with the
# COCO-mini teacher every image reaches the threshold.
_base_ = './promu_minilm-effnet_coco-mini.py'
model = dict(pseudo_labels=dict(tau=0.01))
