# Orthogonality of PROMU pre-training (README.md here): HVPNeT's visual prefixes (Chen et al., NAACL 2022 Findings)
# in place of PROMU's fusion, over the encoders of ../mner/promu_bert-vit_twitter2017.py.
_base_ = '../mner/promu_bert-vit_twitter2017.py'
model = dict(fusion=dict(_delete_=True, type='HVPNetFusion'))
