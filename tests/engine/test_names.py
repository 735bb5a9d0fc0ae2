"""pmu's engine classes go by their own names, and importing pmu changes nothing in MMEngine or torch.

In pmu's scope (``default_scope='pmu'``) an MMEngine name builds MMEngine's class; pmu's loop,
checkpoint hook and optimizer constructor are built only by the names pmu's configs write. What pmu
needs from MMEngine and torch (safe loading of checkpoints, the atomic file backend) is set up when
the component that needs it runs, never as a side effect of ``import pmu``.
"""
import os
import subprocess
import sys

import pytest
import torch
from mmengine.hooks import CheckpointHook
from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.registry import DefaultScope
from mmengine.runner import EpochBasedTrainLoop

from pmu.engine import AtomicCheckpointHook, ResumableEpochBasedTrainLoop
from pmu.engine.optim_wrapper import SummarizedOptimWrapperConstructor
from pmu.registry import HOOKS, LOOPS, OPTIM_WRAPPER_CONSTRUCTORS
from tests.conftest import REPO


@pytest.mark.parametrize('registry, mmengine_name, mmengine_cls, pmu_cls', [
    (LOOPS, 'EpochBasedTrainLoop', EpochBasedTrainLoop, ResumableEpochBasedTrainLoop),
    (HOOKS, 'CheckpointHook', CheckpointHook, AtomicCheckpointHook),
    (OPTIM_WRAPPER_CONSTRUCTORS, 'DefaultOptimWrapperConstructor', DefaultOptimWrapperConstructor,
     SummarizedOptimWrapperConstructor),
])
def test_mmengine_names_build_mmengine_classes_in_pmus_scope(registry, mmengine_name, mmengine_cls, pmu_cls):
    with DefaultScope.overwrite_default_scope('pmu'):
        assert registry.get(mmengine_name) is mmengine_cls
        assert registry.get(pmu_cls.__name__) is pmu_cls
    # registered under one name only
    assert [name for name, cls in registry.module_dict.items() if cls is pmu_cls] == [pmu_cls.__name__]


def test_building_the_optim_wrapper_without_constructor_gets_mmengines():
    """What MMEngine's ``build_optim_wrapper`` does for an ``optim_wrapper`` without ``constructor``."""
    from mmengine.optim import build_optim_wrapper
    model = torch.nn.Linear(2, 2)
    optim = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1))
    with DefaultScope.overwrite_default_scope('pmu'):
        assert OPTIM_WRAPPER_CONSTRUCTORS.get('DefaultOptimWrapperConstructor') is DefaultOptimWrapperConstructor
        built = build_optim_wrapper(model, dict(optim, constructor='SummarizedOptimWrapperConstructor'))
    assert built.optimizer.param_groups[0]['lr'] == 0.1


# Run in a fresh interpreter: in this one other tests have already loaded checkpoints.
_PROBE = r'''
import importlib, pkgutil
import torch
import mmengine.registry as roots
from mmengine.config import utils as config_utils
from mmengine.fileio.backends import registry_utils
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.registry import Registry
from mmengine.runner.checkpoint import CheckpointLoader


def snapshot():
    get_safe = getattr(torch.serialization, 'get_safe_globals', lambda: [])
    return dict(
        safe_globals={repr(g): g for g in get_safe()}, history_buffer=dict(vars(HistoryBuffer)),
        checkpoint_schemes=dict(CheckpointLoader._schemes), file_backends=dict(registry_utils.backends),
        file_prefixes=dict(registry_utils.prefix_to_backends), config_packages=dict(config_utils.MODULE2PACKAGE),
        **{f'registry {n}': dict(r._module_dict) for n, r in vars(roots).items() if isinstance(r, Registry)})


before = snapshot()
import pmu
names = [m.name for m in pkgutil.walk_packages(pmu.__path__, 'pmu.')]
for name in names:
    importlib.import_module(name)
after = snapshot()
print(len(names), 'modules')
for key in before:
    if before[key] != after[key]:
        print('CHANGED', key, sorted(str(k) for k in set(before[key]) | set(after[key])
                                     if before[key].get(k) is not after[key].get(k)))
'''


def test_importing_pmu_changes_nothing_in_mmengine_or_torch():
    env = dict(os.environ, OMP_NUM_THREADS='1')
    result = subprocess.run([sys.executable, '-c', _PROBE], cwd=REPO, capture_output=True, text=True, env=env,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert int(result.stdout.split()[0]) > 50  # every module of pmu was imported
    assert 'CHANGED' not in result.stdout, result.stdout


def test_the_checkpoint_hook_sets_up_what_it_needs_when_it_is_used(tmp_path, monkeypatch):
    from mmengine.fileio.backends.registry_utils import backends
    from mmengine.logging.history_buffer import HistoryBuffer
    from mmengine.runner.checkpoint import CheckpointLoader, load_from_local
    monkeypatch.delitem(backends, 'pmu_atomic_local', raising=False)
    monkeypatch.setitem(CheckpointLoader._schemes, '', load_from_local)  # as before any pmu code ran
    hook = AtomicCheckpointHook(out_dir=str(tmp_path))
    assert hook.backend_args == dict(backend='pmu_atomic_local') and 'pmu_atomic_local' in backends
    assert CheckpointLoader._get_checkpoint_loader('/any/local.pth') is load_from_local

    class Runner:  # before_run reads nothing of the runner
        work_dir = str(tmp_path)
    hook.before_run(Runner())
    # the runner's load_from / --resume, after before_run, go through pmu's safe loading
    assert CheckpointLoader._get_checkpoint_loader('/any/local.pth').__name__ == '_load_local'
    assert HistoryBuffer in torch.serialization.get_safe_globals()
