# Ablation: CLIP-style entity prompts ('a photo of {}.', ...) instead of PROMU's
# ('This is an image of {}.', ...); the relation prompts stay.
_base_ = './promu_minilm-effnet_coco-mini.py'
model = dict(pseudo_labels=dict(entity_templates=dict(type='clip_entity')))
