# Ablation: ITM negatives drawn uniformly among the non-matching captions and images instead of
# from the ITC similarities (hard negatives).
_base_ = './promu_minilm-effnet_coco-mini.py'
model = dict(itm_hard_negatives=False)
