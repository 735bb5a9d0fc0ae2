# Orthogonality of PROMU pre-training (README.md here): UMT's multimodal transformer (Yu et al., ACL 2020)
# in place of PROMU's fusion, over the encoders of ../mre/promu_minilm-effnet_mnre.py.
_base_ = '../mre/promu_minilm-effnet_mnre.py'
model = dict(fusion=dict(_delete_=True, type='UMTFusion'))
