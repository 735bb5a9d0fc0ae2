# MRE with PROMU's single-stream fusion: entity markers, [<s>; <o>] states, MLP.
# The tokenizer learns the dataset's entity markers (extra_special_tokens, set on loading).
# Layout: README.md in this folder.
_base_ = './encoders.py'
model = dict(
    type='MultimodalRE',
    relations=None,  # on loading: the dataset's `relations` (rel2id.json order)
    # 2 of MiniLM's 6 layers; the bert-vit configs fuse in 6 of bert-base's 12 (official fusion_layer=6)
    fusion=dict(type='SingleStreamFusion', num_layers=2),
    head=dict(type='RelationClassificationHead', dropout=0.1))
