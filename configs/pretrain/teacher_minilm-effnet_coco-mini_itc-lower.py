# The teacher of the ITC-split ablation (promu_minilm-effnet_coco-mini_itc-lower.py): its ITC text
# feature from MiniLM's lower 4 layers, the ones below the lite student's fusion (2 of 6).
_base_ = './teacher_minilm-effnet_coco-mini.py'
model = dict(itc_text_layers=4)
