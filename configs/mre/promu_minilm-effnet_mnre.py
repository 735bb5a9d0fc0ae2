# PROMU fusion over MiniLM-L6 + EfficientNet-lite0 on MNRE, CPU schedule.
_base_ = [
    '../_base_/models/mre_promu.py', '../_base_/datasets/mnre.py',
    '../_base_/schedules/adamw_lin-warmup-decay_mre-cpu_2e.py', '../_base_/default_runtime.py'
]
