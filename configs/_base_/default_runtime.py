default_scope = 'pmu'
# MMEngine's runner whose console leaves out the environment, config and hook dumps (the log file keeps
# them; PMU_VERBOSE=1 or log_level='DEBUG' shows them)
runner_type = 'QuietConsoleRunner'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    # a training line every tenth of an epoch (interval=None; a number: every that many iterations),
    # short metric lines after each validation
    logger=dict(type='ReadableLoggerHook', interval=None),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # save_best='auto' keeps the checkpoint with the best first validation metric (F1), weights only;
    # one epoch checkpoint with optimizer state for --resume (AtomicCheckpointHook writes the new one
    # before removing the old), and the final one without it (final_optimizer=True keeps it)
    checkpoint=dict(
        type='AtomicCheckpointHook', interval=1, max_keep_ckpts=1, save_best='auto', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # progress lines during validation and testing; a log line for a dataset cut by `indices`
    eval_progress=dict(type='EvalProgressHook'),
    data_subset=dict(type='DataSubsetHook'))
# stop at a non-finite loss (no NaN checkpoint); random generator states in every checkpoint (exact --resume)
default_hooks.update(finite_loss=dict(type='FiniteLossHook'), rng_state=dict(type='RNGStateHook'))
# the closing summary: best metric and epoch, paths of the best and last checkpoints, curves and log, wall time
default_hooks.update(run_summary=dict(type='RunSummaryHook'))
# <work_dir>/curves.png, redrawn after each validation and at the end
custom_hooks = [dict(type='CurvePlotHook')]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # 'auto': tools/train.py picks nccl when CUDA is there, gloo otherwise
    dist_cfg=dict(backend='auto'))
# Batches without any image leave the cross-attention unused.
model_wrapper_cfg = dict(type='MMDistributedDataParallel', find_unused_parameters=True)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends)
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=42)
