"""Loading text encoders: half-precision checkpoints are trained in float32."""
import shutil

import torch

from pmu.utils import resolve_packaged_path
from tests.conftest import MINILM


def test_half_precision_checkpoint_loads_as_float32(tmp_path):
    from transformers import BertConfig, BertModel

    from pmu.models import HFTextEncoder
    folder = tmp_path / 'tiny-bert-fp16'
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64)
    BertModel(config).half().save_pretrained(folder)
    src = resolve_packaged_path(MINILM)
    for name in ('tokenizer.json', 'tokenizer_config.json', 'vocab.txt', 'special_tokens_map.json'):
        shutil.copy(f'{src}/{name}', folder / name)
    encoder = HFTextEncoder(str(folder))
    assert {p.dtype for p in encoder.parameters()} == {torch.float32}
    ids = encoder.tokenizer(['a post'], return_tensors='pt')
    assert encoder(ids['input_ids'], ids['attention_mask']).dtype == torch.float32
