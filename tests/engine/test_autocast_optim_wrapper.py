"""``--amp`` on CPU: the AutocastOptimWrapper autocasts to bfloat16 and updates fp32 weights."""
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

from pmu.apis.config import prepare_train_config


def test_amp_on_cpu_autocasts_to_bfloat16():
    cfg = Config(dict(optim_wrapper=dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3)),
                      env_cfg=dict(dist_cfg=dict(backend='auto'))))
    prepare_train_config(cfg, amp=True)
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    model = nn.Linear(8, 2)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    assert type(wrapper).__name__ == 'AutocastOptimWrapper'
    with wrapper.optim_context(model):
        out = model(torch.randn(3, 8))
    assert out.dtype == torch.bfloat16
    before = model.weight.detach().clone()
    wrapper.update_params(out.float().pow(2).mean())
    assert not torch.equal(before, model.weight)  # fp32 master weights were updated
