# adamw_lin-warmup-decay_10e.py for relation extraction: the same learning rates without the CRF's
# entry (`head.crf`), which an MRE model does not have (a custom key that matches no parameter
# stops the run).
_base_ = './adamw_lin-warmup-decay_10e.py'
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            '_delete_': True,
            'text_encoder': dict(lr_mult=1.0),
            'visual_encoder': dict(lr_mult=0.2),
            'fusion': dict(lr_mult=4.0),
            'head': dict(lr_mult=20.0),
        }))
