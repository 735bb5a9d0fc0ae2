# The PROMU row of the orthogonality table (README.md here): the same run as
# ../mner/promu_bert-vit_twitter2017_from-promu.py (and the same work dir name).
_base_ = '../mner/promu_bert-vit_twitter2017_from-promu.py'
