# COCO-mini with an MMDetection model (pip install -e ".[mmdet]").
# Set checkpoint to RTMDet-tiny's COCO weights, e.g.
# https://download.openmmlab.com/mmdetection/v3.0/rtmdet/rtmdet_tiny_8xb32-300e_coco/rtmdet_tiny_8xb32-300e_coco_20220902_112414-78e30dcc.pth
# (checkpoint=None builds random weights: only for testing the plumbing offline).
_base_ = './prepare_onnx-centernet_spacy_coco-mini.py'

detector = dict(
    _delete_=True,
    type='MMDetDetector',
    config='mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py',
    checkpoint=None,
    device='cpu',
    score_thr=0.3,
    max_per_image=10,
    min_box_size=2.0,
    batch_size=8)
