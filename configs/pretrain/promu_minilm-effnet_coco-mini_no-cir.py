# Ablation: without the image-relation alignment (CIR); everything else as the full model.
_base_ = './promu_minilm-effnet_coco-mini.py'
model = dict(cir_head=None)
