"""The few config adjustments the tools make, kept here where tests reach them."""
import os.path as osp

import torch
from mmengine.config import Config


def load_tool_config(args) -> Config:
    """The config a tool runs: file, ``--cfg-options``, launcher and work dir."""
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0])
    return cfg


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
    import torch.distributed as dist
    if cfg.get('launcher', 'none') != 'pytorch' or torch.cuda.is_available():
        return
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo', init_method='env://')
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


def prepare_train_config(cfg: Config, amp: bool = False, resume=None) -> Config:
    resolve_dist_backend(cfg)
    init_cpu_distributed(cfg)
    if amp:
        cfg.optim_wrapper = amp_optim_wrapper(cfg.optim_wrapper)
    if resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif resume:
        cfg.resume = True
        cfg.load_from = resume
    return cfg


def prepare_test_config(cfg: Config, checkpoint: str, out=None) -> Config:
    resolve_dist_backend(cfg)
    init_cpu_distributed(cfg)
    cfg.load_from = checkpoint
    if out:
        evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) \
            else [cfg.test_evaluator]
        for ev in evaluators:
            ev['out_file'] = out
    return cfg
