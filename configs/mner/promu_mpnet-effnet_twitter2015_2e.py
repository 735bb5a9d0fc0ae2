# promu_mpnet-effnet_twitter2015.py with 2 epochs instead of 4 (the schedule's warm-up and decay
# scale with it): the run of the README's MPNet-base Twitter-2015 row, which fits a CPU session.
_base_ = './promu_mpnet-effnet_twitter2015.py'
train_cfg = dict(max_epochs=2)
