# The PROMU row of the orthogonality table (README.md here): the same run as
# ../mre/promu_minilm-effnet_mnre.py (and the same work dir name).
_base_ = '../mre/promu_minilm-effnet_mnre.py'
