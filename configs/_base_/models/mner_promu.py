# MNER with PROMU's single-stream fusion (the text encoder's upper layers run over
# [text tokens; visual tokens]) and a CRF head. Layout: README.md in this folder.
_base_ = './encoders.py'
model = dict(
    type='MultimodalNER',
    tags=None,  # on loading: the dataset's tag set
    # 2 of MiniLM's 6 layers; the bert-vit configs fuse in 6 of bert-base's 12 (official fusion_layer=6)
    fusion=dict(type='SingleStreamFusion', num_layers=2),
    head=dict(type='CRFTaggingHead', dropout=0.1))
