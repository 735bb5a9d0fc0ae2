"""Every attention pmu's models compute goes through PyTorch's fused scaled-dot-product attention.

``F.scaled_dot_product_attention`` (flash / memory-efficient kernels on a GPU) in pmu's own text
layers (PROMU's single-stream fusion, HVPNeT's prefixes, MPNet's relative bias), ``nn.MultiheadAttention``
with ``need_weights=False`` (cross-attention, UMT; it calls the same function) and transformers' ViT
(``attn_implementation='sdpa'``). A training forward and loss of each fusion design runs under
torch's profiler on a post with an image and one without; the test counts the SDPA calls and every
softmax and batched matrix product *outside* them: a hand-written attention would show up there.
"""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

from benchmarks._common import base_random
from pmu.apis.config import complete_config
from pmu.registry import MODELS
from tests.conftest import REPO
from tests.models.conftest import tagged_posts

FUSED = {'aten::scaled_dot_product_attention', 'aten::_native_multi_head_attention'}
HAND_MADE = ('aten::softmax', 'aten::_softmax', 'aten::bmm', 'aten::baddbmm', 'aten::matmul')


def _ops_outside_fused_attention(model, data):
    with torch.profiler.profile() as prof:
        losses = model(**data, mode='loss')
    assert torch.isfinite(sum(losses.values()))

    def inside(event):
        parent = event.cpu_parent
        while parent is not None:
            if parent.name in FUSED:
                return True
            parent = parent.cpu_parent
        return False

    events = prof.events()
    fused = sum(e.name == 'aten::scaled_dot_product_attention' and not inside(e) for e in events)
    outside = {}
    for e in events:
        if e.name in HAND_MADE and not inside(e):
            outside[e.name] = outside.get(e.name, 0) + 1
    return fused, outside


# config, SDPA calls expected at least, softmax outside them (HVPNeT's level gate, one per prefixed layer)
CASES = {
    'promu': ('configs/orthogonality/promu_minilm-effnet_twitter2017.py', 6, 0),
    'hvpnet': ('configs/orthogonality/hvpnet_minilm-effnet_twitter2017.py', 6, 6),
    'umt': ('configs/orthogonality/umt_minilm-effnet_twitter2017.py', 6 + 2, 0),
    'cross-attention': ('configs/mner/crossattn_minilm-effnet_twitter2017.py', 6 + 2, 0),
    # bert-base + ViT-B/16 sizes, random weights: 12 text layers and 12 ViT layers
    'base': ('configs/mner/promu_bert-vit_twitter2017.py', 24, 0),
}


@pytest.mark.parametrize('case', list(CASES))
def test_every_attention_is_fused(case, tweet_image):
    path, at_least, gate_softmax = CASES[case]
    cfg = Config.fromfile(osp.join(REPO, path))
    cfg = complete_config(base_random(cfg) if case == 'base' else cfg)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).train()
    if case == 'base':
        assert model.visual_encoder.model.config._attn_implementation == 'sdpa'
    data = model.data_preprocessor(pseudo_collate(tagged_posts(cfg.model.text_encoder.name_or_path, tweet_image)), True)
    fused, outside = _ops_outside_fused_attention(model, data)
    assert fused >= at_least
    softmax = outside.get('aten::softmax', 0)
    assert softmax == gate_softmax, outside
    # the gate mixes its levels with one batched product each; nothing else multiplies batches of matrices
    assert outside.get('aten::bmm', 0) + outside.get('aten::baddbmm', 0) == gate_softmax, outside
