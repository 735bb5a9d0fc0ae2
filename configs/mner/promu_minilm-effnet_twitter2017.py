# PROMU fusion over MiniLM-L6 + EfficientNet-lite0 on Twitter-2017, CPU schedule.
_base_ = [
    '../_base_/models/mner_promu.py', '../_base_/datasets/twitter2017.py',
    '../_base_/schedules/adamw_lin-warmup-decay_4e.py', '../_base_/default_runtime.py'
]
