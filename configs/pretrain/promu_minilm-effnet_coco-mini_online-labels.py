# Ablation: soft labels made online, in each step, by the frozen teacher from the view the student
# sees (CIR: the augmented crop; COE: the remapped box in it), as the official code does for CIR,
# instead of once on the whole un-augmented image; no pair is skipped for its crop coverage.
# The default of the Flickr8k student (promu_minilm-effnet_flickr8k.py).
_base_ = './promu_minilm-effnet_coco-mini.py'
model = dict(label_source='online')
