"""benchmarks/gpu_suite.sh, the one command for every GPU figure: on a machine without CUDA (CI, this
one) it stops at once with exit 2 and says why, instead of printing CPU figures under GPU names."""
import os.path as osp
import subprocess
import sys

import pytest
import torch

from tests.conftest import REPO


@pytest.mark.skipif(torch.cuda.is_available(), reason='a CUDA machine runs the suite itself')
def test_gpu_suite_refuses_to_run_without_cuda(tmp_path):
    out = tmp_path / 'suite'
    r = subprocess.run(['bash', osp.join(REPO, 'benchmarks', 'gpu_suite.sh'), str(out)], capture_output=True,
                       text=True, env={'PATH': '/usr/bin:/bin', 'PYTHON': sys.executable}, timeout=120)
    assert r.returncode == 2, r.stderr
    assert f'no CUDA device for {sys.executable} (torch.cuda.is_available(): False)' in r.stderr
    assert not (out / 'mner_lite_amp.txt').exists()
