# What every dataloader of pmu shares; a dataset base inherits this file and adds the
# batch sizes and the datasets. Samples stay lists (pseudo_collate): the model's data
# preprocessor pads them.
train_dataloader = dict(
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'))
val_dataloader = dict(train_dataloader, sampler=dict(type='DefaultSampler', shuffle=False))
test_dataloader = val_dataloader
