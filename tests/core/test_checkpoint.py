import os
import pickle

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.logging import HistoryBuffer, MessageHub

from pmu.engine import load_checkpoint_file, load_mapped_checkpoint


class Pretrainer(nn.Module):
    def __init__(self):
        super().__init__()
        self.text_encoder = nn.Linear(4, 4)
        self.fusion = nn.Linear(4, 4)
        self.itm_head = nn.Linear(4, 2)  # pre-training only


class Finetuner(nn.Module):
    def __init__(self, classes=3):
        super().__init__()
        self.text_encoder = nn.Linear(4, 4)
        self.fusion = nn.Linear(4, 4)
        self.head = nn.Linear(4, classes)


def test_mmengine_style_checkpoint_loads_with_safe_loading(tmp_path):
    hub = MessageHub.get_instance('pmu-test')
    hub.update_scalar('train/loss', 1.5)
    hub.update_scalar('train/loss', np.float64(0.5))
    ckpt = dict(meta=dict(epoch=1, iter=6, seed=np.int64(3)),
                state_dict=Pretrainer().state_dict(),
                message_hub=hub.state_dict())
    path = tmp_path / 'epoch_1.pth'
    torch.save(ckpt, path)
    loaded = load_checkpoint_file(str(path))
    buf = loaded['message_hub']['log_scalars']['train/loss']
    assert isinstance(buf, HistoryBuffer) and buf.mean() == 1.0
    assert buf.statistics('min') == 0.5  # statistics methods restored on load


class Boom:
    def __reduce__(self):
        return (os.system, ('echo pwned',))


def test_other_pickled_objects_are_still_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'x': Boom()}, path)
    with pytest.raises(pickle.UnpicklingError):
        load_checkpoint_file(str(path))


def test_key_mapping_reports_missing_unexpected_and_shape(tmp_path):
    torch.manual_seed(0)
    pre = Pretrainer()
    path = tmp_path / 'pre.pth'
    torch.save({'state_dict': {f'student.{k}': v for k, v in pre.state_dict().items()}}, path)
    fine = Finetuner()
    lines = []
    logger = type('L', (), {'info': lambda self, m: lines.append(m)})()
    res = load_mapped_checkpoint(
        fine, str(path), key_map={'re:^student\\.text_encoder\\.': 'text_encoder.',
                                  'student.fusion.': 'fusion.'}, logger=logger)
    assert torch.equal(fine.text_encoder.weight, pre.text_encoder.weight)
    assert torch.equal(fine.fusion.bias, pre.fusion.bias)
    assert sorted(res.missing_keys) == ['head.bias', 'head.weight']
    assert 'Loaded 4 tensors' in lines[0] and 'missing in checkpoint: 2' in lines[0]
    assert any('head.weight' in ln or 'head.* (2)' in ln for ln in lines)
    with pytest.raises(RuntimeError, match='does not match'):
        load_mapped_checkpoint(Finetuner(), str(path), key_map={'student.': ''}, strict=True,
                               logger=logger)
