"""What tools/train.py and tools/test.py change on a CUDA machine: pinned host memory for the batches.
CI and this machine have no GPU; ``cuda=True`` stands in for one (the only thing that differs there is
``torch.cuda.is_available()``)."""
import os.path as osp

from mmengine.runner import Runner

from pmu.apis.config import load_complete_config, pin_memory_on_cuda, prepare_train_config
from tests.conftest import REPO

CFG = osp.join(REPO, 'configs/mner/promu_minilm-effnet_twitter2017.py')


def test_cuda_pins_every_loader_that_does_not_say_otherwise():
    cfg = load_complete_config(CFG, {'val_dataloader.pin_memory': False})
    pin_memory_on_cuda(cfg, cuda=True)
    assert cfg.train_dataloader.pin_memory is True and cfg.test_dataloader.pin_memory is True
    assert cfg.val_dataloader.pin_memory is False  # an explicit choice stays
    loader = Runner.build_dataloader(dict(cfg.train_dataloader, num_workers=0, persistent_workers=False))
    assert loader.pin_memory is True


def test_cpu_changes_nothing():
    cfg = load_complete_config(CFG)
    pin_memory_on_cuda(cfg, cuda=False)
    prepare_train_config(cfg)  # this machine: no CUDA
    assert all(cfg[f'{s}_dataloader'].get('pin_memory') is None for s in ('train', 'val', 'test'))
