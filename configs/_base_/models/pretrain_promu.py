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
    cir_min_coverage=0.5,  # CIR skips random crops that keep less of the image the teacher labelled
    entity_vocab=None,  # complete_config: <the train dataset's cache_dir>/entity_vocab.txt
    relation_vocab=None,  # complete_config: <the train dataset's cache_dir>/relation_vocab.txt
    # softmax(sim / tau) over the vocabulary; a sample whose largest probability is
    # below threshold gets no label (official: 0.2); hard=True: one-hot argmax.
    pseudo_labels=dict(tau=0.02, threshold=0.2, hard=False, entity_templates=dict(type='promu_entity'),
                       relation_templates=dict(type='promu_relation')))
