import os
import pickle

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.logging import HistoryBuffer, MessageHub

from pmu.utils.checkpoint import load_checkpoint_file, load_mapped_checkpoint, resolve_checkpoint


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


# --------------------------------------------------------------------------- fine-tuning from pre-training

class TextModel(nn.Module):
    """A model whose text encoder is the real MiniLM-L6, with or without the MRE entity markers."""

    def __init__(self, markers=None):
        super().__init__()
        from pmu.models import HFTextEncoder
        from tests.conftest import MINILM
        self.text_encoder = HFTextEncoder(name_or_path=MINILM, extra_special_tokens=markers)


WORD_EMBEDDINGS = 'text_encoder.model.embeddings.word_embeddings.weight'
MARKERS = ('<s>', '</s>', '<o>', '</o>')


def _save(path, model):
    torch.save({'meta': {'epoch': 1}, 'state_dict': model.state_dict()}, path)
    return str(path)


@pytest.fixture(scope='module')
def pretrained():
    torch.manual_seed(0)
    model = TextModel()
    with torch.no_grad():  # so that a load is visible: MiniLM's own weights would not tell
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    return model


def test_enlarged_word_embeddings_load_the_pretrained_rows_and_keep_the_new_ones(tmp_path, pretrained):
    ckpt = _save(tmp_path / 'epoch_3.pth', pretrained)
    torch.manual_seed(1)
    fine = TextModel(MARKERS)
    new_rows = fine.state_dict()[WORD_EMBEDDINGS][-4:].clone()
    lines = []
    logger = type('L', (), {'info': lambda self, m: lines.append(m)})()
    res = load_mapped_checkpoint(fine, ckpt, key_map={'text_encoder.': 'text_encoder.'}, logger=logger)
    emb, pre = fine.state_dict()[WORD_EMBEDDINGS], pretrained.state_dict()[WORD_EMBEDDINGS]
    assert emb.shape[0] == pre.shape[0] + 4
    assert torch.equal(emb[:pre.shape[0]], pre) and torch.equal(emb[-4:], new_rows)
    assert not res.missing_keys and not res.unexpected_keys
    assert 'shape mismatch (skipped): 0' in lines[0] and 'partly loaded: 1' in lines[0]
    assert any(f'word_embeddings.weight: {pre.shape[0]} rows loaded, 4 new rows kept' in ln for ln in lines)
    # every other tensor is the pre-trained one
    key = 'text_encoder.model.encoder.layer.5.output.dense.weight'
    assert torch.equal(fine.state_dict()[key], pretrained.state_dict()[key])
    with pytest.raises(RuntimeError, match='does not match'):  # strict: a partial load is a mismatch
        load_mapped_checkpoint(TextModel(MARKERS), ckpt, strict=True, logger=logger)


def test_a_larger_checkpoint_matrix_loads_the_rows_the_model_has(tmp_path):
    torch.manual_seed(0)
    big = Finetuner(classes=5)
    ckpt = _save(tmp_path / 'big.pth', big)
    small = Finetuner(classes=3)
    lines = []
    logger = type('L', (), {'info': lambda self, m: lines.append(m)})()
    load_mapped_checkpoint(small, ckpt, logger=logger)
    assert torch.equal(small.head.weight, big.head.weight[:3]) and torch.equal(small.head.bias, big.head.bias[:3])
    assert any('head.weight: 3 rows loaded, 0 new rows kept, 2 rows of the checkpoint left out' in ln
               for ln in lines)


def test_a_work_dir_loads_its_last_checkpoint(tmp_path, pretrained):
    work = tmp_path / 'work'
    work.mkdir()
    _save(work / 'epoch_2.pth', TextModel())
    last = _save(work / 'epoch_3.pth', pretrained)
    # MMEngine writes the path as seen from where the run started; the dir has moved since
    (work / 'last_checkpoint').write_text('/elsewhere/work/epoch_3.pth')
    assert resolve_checkpoint(str(work)) == last
    fine = TextModel()
    load_mapped_checkpoint(fine, str(work), key_map={'text_encoder.': 'text_encoder.'})
    assert torch.equal(fine.state_dict()[WORD_EMBEDDINGS], pretrained.state_dict()[WORD_EMBEDDINGS])


def test_a_work_dir_without_last_checkpoint_gives_its_newest_epoch(tmp_path):
    for n in (2, 10, 9):
        torch.save({'state_dict': {}}, tmp_path / f'epoch_{n}.pth')
    assert resolve_checkpoint(str(tmp_path)) == str(tmp_path / 'epoch_10.pth')


def test_prefer_best_takes_the_newest_best_checkpoint_of_a_work_dir(tmp_path):
    import os
    for name, mtime in (('epoch_4.pth', 30), ('best_ner_f1_epoch_2.pth', 10), ('best_ner_f1_epoch_3.pth', 20)):
        torch.save({'state_dict': {}}, tmp_path / name)
        os.utime(tmp_path / name, (mtime, mtime))
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_4.pth'))
    assert resolve_checkpoint(str(tmp_path), prefer_best=True) == str(tmp_path / 'best_ner_f1_epoch_3.pth')
    assert resolve_checkpoint(str(tmp_path)) == str(tmp_path / 'epoch_4.pth')
    # a file is a file, and a work dir without best_*.pth falls back to its last checkpoint
    assert resolve_checkpoint(str(tmp_path / 'epoch_4.pth'), prefer_best=True) == str(tmp_path / 'epoch_4.pth')
    for p in tmp_path.glob('best_*.pth'):
        p.unlink()
    assert resolve_checkpoint(str(tmp_path), prefer_best=True) == str(tmp_path / 'epoch_4.pth')


def test_a_work_dir_without_checkpoints_is_named(tmp_path):
    (tmp_path / 'empty').mkdir()
    with pytest.raises(FileNotFoundError, match=f'work dir {tmp_path / "empty"} holds no checkpoint'):
        resolve_checkpoint(str(tmp_path / 'empty'))
    with pytest.raises(FileNotFoundError, match='nowhere.pth not found'):
        resolve_checkpoint(str(tmp_path / 'nowhere.pth'))
