# Ablation: hard pseudo-labels (one-hot argmax of the teacher's distribution) instead of soft ones;
# the same samples are kept (largest probability >= threshold).
_base_ = './promu_minilm-effnet_coco-mini.py'
model = dict(pseudo_labels=dict(hard=True))
