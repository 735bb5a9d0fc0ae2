"""Which process this is: rank discovery shared by the tools, the preparation step and the runners.

torch is imported inside the functions, so that importing ``pmu.utils`` stays light.
"""
import os
from typing import Tuple

LAUNCHERS = ('none', 'pytorch')


def init_cpu_process_group() -> None:
    """Join the gloo process group that torchrun describes (``MASTER_ADDR``, ``RANK``, ...).

    Not ``mmengine.dist.init_dist``: it calls ``torch.cuda.set_device`` first,
    which a CPU-only torch build cannot do. Does nothing if a group exists.
    """
    import torch.distributed as dist
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo', init_method='env://')


def get_rank_world(launcher: str = 'none') -> Tuple[int, int]:
    """``(rank, world_size)`` of this process.

    ``launcher='pytorch'`` joins torch.distributed (gloo, works on CPU) as set
    up by torchrun; ``'none'`` reads ``$RANK`` / ``$WORLD_SIZE`` (default 0 of
    1), so independent processes can split work without a process group.
    """
    if launcher == 'pytorch':
        import torch.distributed as dist
        init_cpu_process_group()
        return dist.get_rank(), dist.get_world_size()
    if launcher != 'none':
        raise ValueError(f'launcher must be one of {LAUNCHERS}, not {launcher!r}')
    try:
        rank, world = int(os.environ.get('RANK', 0)), int(os.environ.get('WORLD_SIZE', 1))
    except ValueError as e:
        raise ValueError(f"RANK and WORLD_SIZE must be integers (RANK={os.environ.get('RANK')!r}, "
                         f"WORLD_SIZE={os.environ.get('WORLD_SIZE')!r})") from e
    if not 0 <= rank < world:
        raise ValueError(f'RANK={rank} is not in [0, WORLD_SIZE={world})')
    return rank, world
