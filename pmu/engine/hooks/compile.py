"""``tools/train.py --compile``: torch.compile the model's tensor work, not MMEngine's whole train step."""
from typing import List, Sequence

import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from pmu.registry import HOOKS


def compile_methods(model: torch.nn.Module, methods: Sequence[str] = ('extract_feat', ), **compile_kwargs) -> List[str]:
    """Replace each named method of ``model`` (``'extract_feat'``, ``'fusion.fuse'``: dotted paths
    reach submodules) by its ``torch.compile``d version; returns the ones compiled. A name that
    is not there is an error naming the model and what it has."""
    done = []
    for path in methods:
        owner, _, name = path.rpartition('.')
        obj = model
        for part in filter(None, owner.split('.')):
            obj = getattr(obj, part, None)
        fn = getattr(obj, name, None)
        if not callable(fn):
            raise ValueError(f'CompileModelHook: {type(model).__name__} has no method {path!r} to compile')
        setattr(obj, name, torch.compile(fn, **compile_kwargs))
        done.append(path)
    return done


@HOOKS.register_module()
class CompileModelHook(Hook):
    """``torch.compile`` the model's tensor work before training.

    Compiled: the methods named in ``methods``, by default ``extract_feat`` (encoders and fusion
    from input tensors to fused states, the bulk of a step's FLOPs). Not compiled: what reads the
    data samples' Python fields (tag lists, word ids: their lengths would become guards and
    recompile the graph for nearly every batch), the CRF (torchcrf's input checks break graphs),
    the loss sums, backward bookkeeping and the optimizer step. MMEngine's own ``cfg.compile``
    compiles the whole ``train_step`` and stops at MMEngine's optimizer wrapper with torch 2.13
    (``'UserDefinedDictVariable' object has no attribute 'items'``).

    Sequence lengths differ from batch to batch: the first new length recompiles with dynamic
    shapes (``torch.compile``'s automatic dynamic shapes), later ones reuse that graph; pass
    ``dynamic=True`` to start dynamic. Where it pays: on a GPU, whose steps are short enough for
    fused kernels and fewer launches to show; on the 2-core CPU a lite step takes about as long
    either way (docs/benchmarks.md).

    Args:
        methods: method names of the model (dotted for submodules, e.g. ``'fusion.fuse'``).
        **compile_kwargs: passed to ``torch.compile`` (``mode='max-autotune'``, ``dynamic=True``, ...).
    """

    priority = 'VERY_HIGH'

    def __init__(self, methods: Sequence[str] = ('extract_feat', ), **compile_kwargs):
        self.methods = list(methods)
        self.compile_kwargs = compile_kwargs

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        done = compile_methods(model, self.methods, **self.compile_kwargs)
        opts = ', '.join(f'{k}={v!r}' for k, v in self.compile_kwargs.items()) or 'default options'
        print_log(f'torch.compile: {type(model).__name__}.{", ".join(done)} ({opts}); the first batches compile',
                  logger='current')
