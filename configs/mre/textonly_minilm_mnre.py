# Text-only MiniLM-L6 baseline on MNRE, CPU schedule.
_base_ = [
    '../_base_/models/mre_textonly.py', '../_base_/datasets/mnre.py',
    '../_base_/schedules/adamw_lin-warmup-decay_mre-cpu_2e.py', '../_base_/default_runtime.py'
]
