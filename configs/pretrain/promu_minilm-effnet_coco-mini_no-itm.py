# Ablation: without image-text matching (ITM); everything else as the full model.
_base_ = './promu_minilm-effnet_coco-mini.py'
model = dict(itm_head=None)
