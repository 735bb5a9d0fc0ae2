# Orthogonality of PROMU pre-training (README.md here): HVPNeT's visual prefixes (Chen et al., NAACL 2022 Findings)
# in place of PROMU's fusion, over the encoders of ../mre/promu_bert-vit_mnre.py.
_base_ = '../mre/promu_bert-vit_mnre.py'
model = dict(fusion=dict(_delete_=True, type='HVPNetFusion'))
