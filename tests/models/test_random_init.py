"""Base-size encoders with random weights (``random_init``), built offline for benchmarking."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

from benchmarks._common import base_random
from pmu.apis.config import complete_config
from pmu.registry import MODELS
from tests.conftest import MINILM, REPO
from tests.models.conftest import tagged_posts

BASE = osp.join(REPO, 'configs/mner/promu_bert-vit_twitter2017.py')


def test_base_promu_mner_random_init_forward_backward(tweet_image, mmlog):
    """The bert-vit PROMU MNER model (bert-base + ViT-B/16, 6 fused layers) with random weights:
    one training forward/backward through the real pipeline, text and image."""
    cfg = complete_config(base_random(Config.fromfile(BASE)))  # what the benchmarks' --base builds
    # the pipeline's tokenizer follows the text encoder: MiniLM's, bert-base-uncased's vocabulary
    assert cfg.train_dataloader.dataset.pipeline[-2].tokenizer == MINILM
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    # the log, not the terminal: MMEngine's handler keeps the stdout of when the logger was made
    random_lines = [ln for ln in mmlog.lines if 'RANDOM WEIGHTS' in ln]
    assert len(random_lines) == 2, random_lines
    assert 'BertConfig()' in random_lines[0] and '12 layers, hidden 768' in random_lines[0]
    assert 'ViTConfig()' in random_lines[1] and '12 layers, hidden 768' in random_lines[1]
    te = model.text_encoder
    assert (te.hidden_size, te.num_layers, te.num_heads) == (768, 12, 12)
    assert te.model.get_input_embeddings().num_embeddings == 30522
    assert model.visual_encoder.out_channels == 768
    n_params = sum(p.numel() for p in model.parameters())
    assert 190e6 < n_params < 220e6, n_params  # bert-base (110M) + ViT-B/16 (86M) + fusion and head

    items = tagged_posts(MINILM, tweet_image)
    model.train()
    data = model.data_preprocessor(pseudo_collate(items), True)
    losses = model(**data, mode='loss')
    loss = sum(losses.values())
    assert torch.isfinite(loss)
    loss.backward()
    assert model.text_encoder.model.embeddings.word_embeddings.weight.grad.abs().sum() > 0
    patch = model.visual_encoder.model.embeddings.patch_embeddings.projection.weight.grad
    assert patch is not None and patch.abs().sum() > 0  # the image reached ViT


def test_random_init_true_keeps_architecture_and_logs():
    """``random_init=True``: the architecture of ``name_or_path`` (MiniLM-L6), not its weights."""
    from pmu.models import HFTextEncoder
    torch.manual_seed(0)
    loaded = HFTextEncoder(MINILM)
    rand = HFTextEncoder(MINILM, random_init=True)
    assert (rand.hidden_size, rand.num_layers) == (loaded.hidden_size, loaded.num_layers) == (384, 6)
    a = loaded.model.embeddings.word_embeddings.weight
    b = rand.model.embeddings.word_embeddings.weight
    assert not torch.allclose(a, b)


def test_random_init_errors_name_the_field():
    from pmu.models import HFTextEncoder
    from pmu.models.encoders.visual import HFVisionEncoder
    with pytest.raises(ValueError, match=r"text_encoder.random_init='NoSuchConfig'"):
        HFTextEncoder(MINILM, random_init='NoSuchConfig')
    with pytest.raises(ValueError, match='visual_encoder: name_or_path is required'):
        HFVisionEncoder()


def test_mpnet_layers_match_transformers():
    """MPNet (random MPNetConfig() weights: all-mpnet-base-v2's architecture) through pmu's own
    layers, relative position bias included, gives transformers' MPNetModel states, and the
    single-stream fusion runs on it."""
    from pmu.models import HFTextEncoder
    torch.manual_seed(0)
    enc = HFTextEncoder(MINILM, random_init='MPNetConfig').eval()
    assert enc.layer_access and enc.is_mpnet and enc.num_layers == 12
    ids = torch.randint(5, 1000, (2, 11))
    mask = torch.ones(2, 11, dtype=torch.long)
    ids[1, 7:], mask[1, 7:] = 1, 0  # MPNet's <pad>
    with torch.no_grad():
        ref = enc.model(input_ids=ids, attention_mask=mask).last_hidden_state
        ours = enc(ids, mask)
        # a key/value prefix of zero length changes nothing
        empty = (torch.zeros(2, 12, 0, 64), torch.zeros(2, 12, 0, 64), torch.zeros(2, 0, dtype=torch.bool))
        with_prefix = enc.encode_layers(enc.embed(ids), mask, prefixes=[empty] * 12)
    keep = mask.bool()
    torch.testing.assert_close(ours[keep], ref[keep], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(with_prefix[keep], ref[keep], atol=1e-5, rtol=1e-5)

    from pmu.models.fusion import SingleStreamFusion
    fusion = SingleStreamFusion(hidden=768, visual_channels=32, text_layers=12, num_layers=2).eval()
    visual = torch.randn(2, 5, 32)
    with torch.no_grad():
        states = fusion.encode_text(enc, ids, mask)
        out = fusion.fuse(enc, states, mask, visual, torch.tensor([True, False]))
    assert out.visual.shape[1] == 5 and torch.isfinite(out.text[keep]).all()
    # the post without an image gets exactly the text encoder's states
    torch.testing.assert_close(out.text[1][keep[1]], ref[1][keep[1]], atol=1e-5, rtol=1e-5)
