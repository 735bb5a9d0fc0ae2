# PROMU fusion over all-mpnet-base-v2 + EfficientNet-lite0 on MNRE, CPU schedule.
# The text encoder is the folder tools/install_mpnet.sh writes (models/all-mpnet-base-v2,
# offline afterwards). The single-stream fusion runs MPNet's upper 6 of 12 layers over
# [text; visual tokens], with MPNet's relative position bias (pmu/models/encoders/text.py).
_base_ = [
    '../_base_/models/mre_promu.py', '../_base_/datasets/mnre.py',
    '../_base_/schedules/adamw_lin-warmup-decay_mre-cpu_2e.py', '../_base_/default_runtime.py'
]
model = dict(_base_.encoders.mpnet_effnet, fusion=dict(num_layers=6))
