# default_runtime.py for pre-training: no best checkpoint (retrieval is monitored, not
# selected on), the last checkpoint kept, frequent logs.
_base_ = './default_runtime.py'
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(max_keep_ckpts=1, save_best=None))
custom_hooks = [dict(type='CurvePlotHook')]
