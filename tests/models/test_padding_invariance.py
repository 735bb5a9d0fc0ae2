"""A post's fused states do not depend on the batch it is in: padding invariance of every fusion.

The same post with the same image, alone or beside a longer post (with or without an image of its
own), gets the same fused text states (and fused visual tokens) up to float rounding, for every
fusion design and every encoder family pmu runs layer by layer: MiniLM (BERT layout) and MPNet,
whose relative position bias must see neither the text's padding nor where the visual tokens sit.

MPNet is tested on a small randomly initialised model (``transformers.MPNetConfig``, built offline
in :func:`tests.models.conftest.write_tiny_mpnet`) and, when ``tools/install_mpnet.sh`` has been
run, on the real all-mpnet-base-v2 (skipped otherwise, saying so).
"""
import pytest
import torch
from transformers import MPNetModel

from pmu.models.encoders.text import mpnet_position_bias
from pmu.models.fusion import build_fusion
from tests.conftest import MINILM
from tests.models.conftest import require_real_mpnet

SHORT = 'Kevin Durant joins the Warriors'
LONG = ('RT @nasa : a new view of Mars from the rover , taken on the crater rim at dusk today with a long '
        'exposure and shared by the whole team in Pasadena')
CHANNELS = 32
GRID = 4  # the visual tokens: a summary token, then a 4 x 4 grid (HVPNeT pools it)
FUSIONS = {
    'single-stream': dict(type='SingleStreamFusion', num_layers=2),
    'hvpnet': dict(type='HVPNetFusion', mid_channels=48),
    'umt': dict(type='UMTFusion'),
    'cross-attention': dict(type='CrossAttentionFusion', num_layers=2),
    'text-only': dict(type='TextOnlyFusion'),
}
ENCODERS = ('minilm', 'tiny-mpnet', 'mpnet')
_cache = {}


@pytest.fixture(scope='module', params=ENCODERS)
def encoder(request, tiny_mpnet_path):
    from pmu.models import HFTextEncoder
    name = request.param
    if name not in _cache:
        path = dict(minilm=MINILM, mpnet=None, **{'tiny-mpnet': tiny_mpnet_path})[name]
        if name == 'mpnet':
            path = require_real_mpnet()
        _cache[name] = HFTextEncoder(path).eval()
    yield name, _cache[name]


def _batch(enc, posts):
    # MPNet pads with its <pad> (1), MiniLM with [PAD] (0): the tokenizer knows
    out = enc.tokenizer(posts, padding=True, return_tensors='pt')
    return out['input_ids'], out['attention_mask']


@pytest.mark.parametrize('fusion_name', list(FUSIONS))
def test_a_post_and_its_image_get_the_same_states_alone_and_beside_a_longer_post(encoder, fusion_name):
    enc_name, enc = encoder
    torch.manual_seed(0)
    cfg = dict(FUSIONS[fusion_name], **({} if fusion_name == 'text-only' else dict(visual_channels=CHANNELS)))
    fusion = build_fusion(cfg, enc).eval()
    torch.manual_seed(1)
    image, other = torch.randn(2, 1, 1 + GRID * GRID, CHANNELS)
    with torch.no_grad():
        ids, mask = _batch(enc, [SHORT])
        alone = fusion(enc, ids, mask, image, torch.tensor([True]))
        ids2, mask2 = _batch(enc, [SHORT, LONG])
        n = ids.shape[1]
        assert ids2.shape[1] >= n + 10 and torch.equal(ids2[0, :n], ids[0])  # padded by 10+ tokens
        beside_image = fusion(enc, ids2, mask2, torch.cat([image, other]), torch.tensor([True, True]))
        beside_text = fusion(enc, ids2, mask2, torch.cat([image, other]), torch.tensor([True, False]))
    for name, out in (('beside a post with an image', beside_image), ('beside a post without', beside_text)):
        text_diff = (out.text[0, :n] - alone.text[0]).abs().max().item()
        assert text_diff <= 1e-5, f'{enc_name} + {fusion_name}, {name}: text states differ by {text_diff:.2e}'
        if alone.visual is not None:
            visual_diff = (out.visual[0] - alone.visual[0]).abs().max().item()
            assert visual_diff <= 1e-5, (f'{enc_name} + {fusion_name}, {name}: fused visual tokens differ '
                                         f'by {visual_diff:.2e}')
    if fusion_name != 'text-only':  # the image does reach the post
        with torch.no_grad():
            without = fusion(enc, ids, mask, None, None)
        assert not torch.allclose(without.text, alone.text, atol=1e-4)


def test_mpnet_text_path_matches_transformers(encoder):
    """pmu's own MPNet layers (relative position bias included) give transformers' MPNetModel states on
    a padded batch; with a key/value prefix of length zero as well."""
    enc_name, enc = encoder
    if not enc.is_mpnet:
        pytest.skip(f'{enc_name} is not an MPNet (its BERT path: test_single_stream_fusion.py)')
    assert isinstance(enc.model, MPNetModel)
    ids, mask = _batch(enc, [SHORT, LONG])
    assert (mask == 0).any()
    with torch.no_grad():
        ref = enc.model(input_ids=ids, attention_mask=mask).last_hidden_state
        ours = enc(ids, mask)
        h, d = enc.num_heads, enc.hidden_size // enc.num_heads
        empty = (torch.zeros(2, h, 0, d), torch.zeros(2, h, 0, d), torch.zeros(2, 0, dtype=torch.bool))
        with_prefix = enc.encode_layers(enc.embed(ids), mask, prefixes=[empty] * enc.num_layers)
    keep = mask.bool()
    torch.testing.assert_close(ours[keep], ref[keep], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(with_prefix[keep], ref[keep], atol=1e-5, rtol=1e-5)


def test_mpnet_position_bias_is_mpnets_own_on_text_and_fixed_for_visual_tokens(tiny_mpnet_path):
    from pmu.models import HFTextEncoder
    encoder = HFTextEncoder(tiny_mpnet_path).model.encoder
    L, T = 9, 5
    with torch.no_grad():
        own = encoder.compute_position_bias(torch.zeros(1, L, 8))  # transformers' own, [1, h, L, L]
        text_only = mpnet_position_bias(encoder, L)
        joint = mpnet_position_bias(encoder, L + T, text_length=L)
        longer = mpnet_position_bias(encoder, L + 7 + T, text_length=L + 7)  # the text padded by 7 more
    assert torch.equal(text_only, own) and torch.equal(joint[..., :L, :L], own)
    # a text position's bias to the visual tokens, and theirs to it, is the same whatever the padding
    assert torch.equal(joint[..., :L, L:], longer[..., :L, L + 7:])
    assert torch.equal(joint[..., L:, :L], longer[..., L + 7:, :L])
    assert torch.equal(joint[..., L:, L:], longer[..., L + 7:, L + 7:])
    # one value per head and block: the visual tokens have no position
    for block in (joint[..., :L, L:], joint[..., L:, :L], joint[..., L:, L:]):
        assert torch.equal(block, block[..., :1, :1].expand_as(block))
    # text -> visual is MPNet's farthest "after" bucket, visual -> text its farthest "before"
    far = encoder.relative_attention_bias.weight
    bucket = encoder.relative_position_bucket
    after, before, same = (int(bucket(torch.tensor(d))) for d in (10**4, -10**4, 0))
    assert torch.equal(joint[0, :, 0, L], far[after]) and torch.equal(joint[0, :, L, 0], far[before])
    assert torch.equal(joint[0, :, L, L + 1], far[same])
    with pytest.raises(ValueError, match='text_length=12'):
        mpnet_position_bias(encoder, 10, text_length=12)
