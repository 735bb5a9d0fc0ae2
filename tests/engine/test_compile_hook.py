"""``tools/train.py --compile`` (CompileModelHook): the model's tensor work is compiled, batches of other
lengths reuse a dynamic graph instead of recompiling each time, and the compiled features are the eager
ones. A real run of the text-only MiniLM MNER config on 24 Twitter-2017 sentences (6 iterations) with
torch.compile's CPU backend (inductor, C++)."""
import os.path as osp
import shutil

import pytest
import torch
from mmengine.hooks import Hook

from pmu.engine.hooks.compile import compile_methods
from tests.conftest import REPO
from tests.robustness.conftest import TEXT_CFG, tiny_options

pytestmark = pytest.mark.slow
needs_cxx = pytest.mark.skipif(not any(shutil.which(c) for c in ('g++', 'c++', 'clang++')),
                               reason="torch.compile's CPU backend (inductor) needs a C++ compiler")


@needs_cxx
def test_compiled_training_compiles_twice_then_reuses_its_graph(tmp_path):
    from mmengine.runner import Runner
    from torch._dynamo.utils import counters

    from pmu.apis.config import load_complete_config, prepare_train_config
    options = tiny_options(work_dir=str(tmp_path), **{'train_cfg.max_epochs': 1, 'train_dataloader.dataset.indices': 24,
                                                      'default_hooks.checkpoint': None})
    cfg = prepare_train_config(load_complete_config(osp.join(REPO, TEXT_CFG), options), compile=True)
    assert [h['type'] for h in cfg.custom_hooks].count('CompileModelHook') == 1
    torch._dynamo.reset()
    counters.clear()
    graphs = []

    runner = Runner.from_cfg(cfg)

    class CountGraphs(Hook):
        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            graphs.append(counters['stats']['unique_graphs'])

    runner.register_hook(CountGraphs())
    runner.train()
    assert len(graphs) == 6, graphs
    # the first batch's shapes, then one dynamic graph for every later sequence length
    assert graphs[0] == 1 and set(graphs[1:]) == {2}, graphs
    model = runner.model
    batch = next(iter(runner.train_dataloader))
    data = model.data_preprocessor(batch, False)
    model.eval()
    with torch.no_grad():
        eager = type(model).extract_feat(model, data['inputs'])
        compiled = model.extract_feat(data['inputs'])
    assert torch.allclose(eager, compiled, atol=1e-4), (eager - compiled).abs().max()


def test_a_method_the_model_does_not_have_is_named():
    model = torch.nn.Linear(2, 2)
    with pytest.raises(ValueError, match=r"Linear has no method 'fusion.fuse' to compile"):
        compile_methods(model, ['fusion.fuse'])
