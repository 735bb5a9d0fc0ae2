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
    entity_vocab=None,  # complete_config: <the train dataset's cache_dir>/entity_vocab.txt
    relation_vocab=None,  # complete_config: <the train dataset's cache_dir>/relation_vocab.txt
    # softmax(sim / tau) over the vocabulary; a sample whose largest probability is
    # below threshold gets no label (official: 0.2); hard=True: one-hot argmax.
    # The one place of these settings: the labeler (offline), the online teacher and the
    # grounding API read them from here. tau: a number, or 'teacher' (the teacher's learned
    # ITC temperature, clamped).
    pseudo_labels=dict(tau=0.02, threshold=0.2, hard=False, entity_templates=dict(type='promu_entity'),
                       relation_templates=dict(type='promu_relation')))
