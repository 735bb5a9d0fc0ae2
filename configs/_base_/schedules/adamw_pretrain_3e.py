# A CPU schedule for the lite pre-training: adamw_pretrain_10e.py over 3 epochs, where the
# parts that start from scratch learn faster: the projections, ITC's temperature and the
# ITM/COE/CIR heads 10x, the fusion 4x (keys a model lacks, e.g. the teacher's, match nothing).
_base_ = './adamw_pretrain_10e.py'
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            'text_proj': dict(lr_mult=10.0),
            'vision_proj': dict(lr_mult=10.0),
            'itc_loss.temp': dict(lr_mult=10.0, decay_mult=0.0),
            'fusion': dict(lr_mult=4.0),
            'itm_head': dict(lr_mult=10.0),
            'coe_head': dict(lr_mult=10.0),
            'cir_head': dict(lr_mult=10.0),
        }))
train_cfg = dict(max_epochs=3)
