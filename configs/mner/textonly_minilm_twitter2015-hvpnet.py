# Text-only MiniLM-L6-CRF baseline on Twitter-2015 (HVPNeT), CPU schedule.
_base_ = [
    '../_base_/models/mner_textonly.py', '../_base_/datasets/twitter2015-hvpnet.py',
    '../_base_/schedules/adamw_lin-warmup-decay_4e.py', '../_base_/default_runtime.py'
]
