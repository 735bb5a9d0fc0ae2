# Ablation: the soft labels' temperature is the teacher's learned ITC temperature (clamped)
# instead of the fixed default tau.
_base_ = './promu_minilm-effnet_coco-mini.py'
model = dict(pseudo_labels=dict(tau='teacher'))
