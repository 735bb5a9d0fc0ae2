# promu_minilm-effnet_twitter2017.py with the ALBEF-style fusion instead of PROMU's:
# 2 layers of text self-attention + cross-attention to the visual tokens, on top of the
# whole text encoder.
_base_ = './promu_minilm-effnet_twitter2017.py'
model = dict(fusion=dict(_delete_=True, type='CrossAttentionFusion', num_layers=2))
