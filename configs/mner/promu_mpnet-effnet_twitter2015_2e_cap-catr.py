# promu_mpnet-effnet_twitter2015_cap-catr.py with 2 epochs instead of 4: the same schedule as
# promu_mpnet-effnet_twitter2015_2e.py (the README's MPNet-base Twitter-2015 row), so that the two
# differ only by the caption; it fits a CPU session.
_base_ = './promu_mpnet-effnet_twitter2015_cap-catr.py'
train_cfg = dict(max_epochs=2)
