# PROMU fusion over all-mpnet-base-v2 + EfficientNet-lite0 on Twitter-2015 (UMT), CPU schedule.
# The text encoder is the folder tools/install_mpnet.sh writes (models/all-mpnet-base-v2,
# offline afterwards); the model of configs/mner/promu_mpnet-effnet_twitter2017.py.
_base_ = [
    '../_base_/models/mner_promu.py', '../_base_/datasets/twitter2015.py',
    '../_base_/schedules/adamw_lin-warmup-decay_4e.py', '../_base_/default_runtime.py'
]
model = dict(_base_.encoders.mpnet_effnet, fusion=dict(num_layers=6))
