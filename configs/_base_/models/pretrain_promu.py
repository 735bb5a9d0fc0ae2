# The PROMU student: the teacher's encoders and ITC plus the single-stream fusion (the one
# the fine-tuning configs use, so that it loads as is), ITM, and the object-entity (COE)
# and image-relation (CIR) alignment against the teacher's soft pseudo-labels; equal loss
# weights, as the official code. Layout: README.md in this folder.
_base_ = './pretrain_teacher.py'
model = dict(
    type='PromuPretrainer',
    fusion=dict(type='SingleStreamFusion', num_layers=2),
    # each objective's head owns its loss; None leaves the objective out (ablations)
    itm_head=dict(type='ITMHead', loss=dict(type='ImageTextMatchingLoss', loss_weight=1.0)),
    coe_head=dict(type='SoftAlignmentHead', loss=dict(type='SoftCrossEntropyLoss', loss_weight=1.0)),
    cir_head=dict(type='SoftAlignmentHead', loss=dict(type='SoftCrossEntropyLoss', loss_weight=1.0)),
    itm_hard_negatives=True,  # ITM negatives drawn from the ITC similarities (random without ITC)
    cir_source='cls',  # CIR from the fused [CLS] (the paper); 'visual_mean': fused visual tokens (official code)
    cir_min_coverage=0.5,  # offline labels: CIR skips random crops that keep less of the image the teacher labelled
    # 'offline': SoftLabelHook labels every image once, whole and un-augmented (cached);
    # 'online': the frozen teacher labels, in each step, the augmented view the student sees
    # (CIR: the crop; COE: the remapped box in it), no coverage skip (docs/pretraining.md)
    label_source='offline',
    # the ITC text feature: 'all' (the whole text encoder) or 'lower' (the text-only layers below
    # the fusion: the official code, ALBEF; pair it with a teacher of the same split)
    itc_text_layers='all',
    entity_vocab=None,  # on loading: <the train dataset's cache_dir>/entity_vocab.txt
    relation_vocab=None,  # on loading: <the train dataset's cache_dir>/relation_vocab.txt
    # how the teacher's similarities become labels (tau, threshold, hard, entity_templates,
    # relation_templates): a key set here replaces that of pmu.models.pretrainers.DEFAULT_PSEUDO_LABELS,
    # the one place of their defaults; the labeler, the online teacher and the grounding API read
    # the model's merged settings
    pseudo_labels=dict())
