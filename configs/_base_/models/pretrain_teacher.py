# The teacher (prompter) of PROMU: the two encoders and their projections trained with
# image-text contrast (ITC) alone. Layout: README.md in this folder.
_base_ = './encoders.py'
model = dict(
    type='PromptTeacher',
    embed_dim=256,
    text_pool='mean',  # MiniLM (sentence-transformers) was trained with mean pooling; bert-vit: 'cls'
    itc_text_layers='all',  # or the number of lower text layers (the student's fusion split: ITC split)
    # max_length (caption sub-words): the dataset's, set on loading. Left out, not None:
    # SoftLabelHook builds the teacher from its file as written (the model's default is 32).
    # on CPU the backward pass through EfficientNet's early stages dominates a step:
    # train its last four blocks and head only (the bert-vit configs train everything)
    frozen_parameters=[r'visual_encoder\.net\._(conv_stem|bn0|blocks\.([0-9]|1[01])\.)'],
    itc_loss=dict(type='ImageTextContrastiveLoss', temperature=0.07, temperature_range=(0.001, 0.5),
                  loss_weight=1.0))
