"""Run-time preparation of a complete config: distributed backend, mixed precision, pinned memory,
resuming (:func:`prepare_train_config`, :func:`prepare_test_config`)."""
import os.path as osp
from typing import Optional

import torch
from mmengine.config import Config

from pmu.utils.checkpoint import CheckpointNotFoundError
from pmu.utils.dist import init_cpu_process_group
from .completion import complete_config


def resolve_dist_backend(cfg: Config) -> None:
    """``dist_cfg.backend='auto'``: nccl when CUDA is available, gloo otherwise."""
    dist_cfg = cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    if dist_cfg.get('backend', 'auto') == 'auto':
        dist_cfg['backend'] = 'nccl' if torch.cuda.is_available() else 'gloo'


def init_cpu_distributed(cfg: Config) -> None:
    """Start the gloo process group for ``--launcher pytorch`` without CUDA.

    MMEngine's ``init_dist`` calls ``torch.cuda.set_device`` first, which a
    CPU-only torch build cannot do; the runner skips its own initialisation
    when a process group already exists. DDP on CPU also takes no device ids.
    """
    if cfg.get('launcher', 'none') != 'pytorch' or torch.cuda.is_available():
        return
    init_cpu_process_group()
    wrapper = cfg.get('model_wrapper_cfg') or dict(type='MMDistributedDataParallel')
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper


def amp_optim_wrapper(optim_wrapper: dict) -> dict:
    """``--amp``: bfloat16 where the device has it (CPU, Ampere+), else float16 with loss scaling."""
    optim_wrapper = dict(optim_wrapper)
    if not torch.cuda.is_available():
        optim_wrapper.update(type='AutocastOptimWrapper', dtype='bfloat16', device_type='cpu')
    elif torch.cuda.is_bf16_supported():
        optim_wrapper.update(type='AmpOptimWrapper', dtype='bfloat16')
    else:
        optim_wrapper.update(type='AmpOptimWrapper', dtype='float16', loss_scale='dynamic')
    return optim_wrapper


def pin_memory_on_cuda(cfg: Config, cuda: Optional[bool] = None) -> Config:
    """On a CUDA machine, dataloaders that leave ``pin_memory`` unset pin their batches (page-locked
    host memory: faster, asynchronous copies to the GPU); on CPU nothing changes. An explicit
    ``pin_memory=False`` stays."""
    if not (torch.cuda.is_available() if cuda is None else cuda):
        return cfg
    for split in ('train', 'val', 'test'):
        loader = cfg.get(f'{split}_dataloader')
        if isinstance(loader, dict) and loader.get('pin_memory') is None:
            loader['pin_memory'] = True
    return cfg


def prepare_train_config(cfg: Config, amp: bool = False, resume=None, compile: bool = False) -> Config:
    complete_config(cfg)  # a no-op for a config from load_tool_config
    resolve_dist_backend(cfg)
    init_cpu_distributed(cfg)
    pin_memory_on_cuda(cfg)
    if amp:
        cfg.optim_wrapper = amp_optim_wrapper(cfg.optim_wrapper)
    if compile and not any(h.get('type') == 'CompileModelHook' for h in cfg.get('custom_hooks') or []):
        cfg.custom_hooks = [*(cfg.get('custom_hooks') or []), dict(type='CompileModelHook')]
    if resume == 'auto':
        work_dir = cfg.get('work_dir')
        if work_dir and not osp.isfile(osp.join(work_dir, 'last_checkpoint')):
            raise CheckpointNotFoundError(
                f'--resume: nothing to resume in {work_dir} (no last_checkpoint there, the file MMEngine writes '
                'with each checkpoint): train without --resume, give --work-dir of the interrupted run, or '
                'name its checkpoint (--resume PATH)')
        cfg.resume = True
        cfg.load_from = None
    elif resume:
        if not osp.isfile(resume):
            raise CheckpointNotFoundError(f'--resume {resume}: no such checkpoint file')
        cfg.resume = True
        cfg.load_from = resume
    return cfg


def prepare_test_config(cfg: Config, checkpoint: str, out=None) -> Config:
    complete_config(cfg)
    resolve_dist_backend(cfg)
    init_cpu_distributed(cfg)
    pin_memory_on_cuda(cfg)
    cfg.load_from = checkpoint
    if out:
        evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) \
            else [cfg.test_evaluator]
        for ev in evaluators:
            ev['out_file'] = out
    return cfg
