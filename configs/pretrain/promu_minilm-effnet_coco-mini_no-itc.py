# Ablation: without image-text contrast (ITC). No ITC features, so no retrieval validation, and
# ITM draws its negatives at random (no trained similarity to mine hard ones from).
_base_ = './promu_minilm-effnet_coco-mini.py'
model = dict(itc_loss=None)
val_dataloader, val_cfg, val_evaluator = None, None, None
