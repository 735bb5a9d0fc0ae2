"""PROMU's single-stream fusion on the real MiniLM: exact text-only path, fused visual tokens, gradients."""
import pytest
import torch

from pmu.models.fusion import CrossAttentionFusion, SingleStreamFusion, TextOnlyFusion, build_fusion


def _fusion(minilm, **kw):
    torch.manual_seed(0)
    return build_fusion(dict(type='SingleStreamFusion', visual_channels=32, **kw), minilm).eval()


def test_text_encoder_layers_match_transformers(minilm, posts):
    ids, mask = posts
    with torch.no_grad():
        ours = minilm(ids, mask)
        theirs = minilm.model(input_ids=ids, attention_mask=mask).last_hidden_state
    keep = mask.bool()
    torch.testing.assert_close(ours[keep], theirs[keep], atol=1e-5, rtol=1e-5)


def test_filled_in_from_the_encoder(minilm):
    fusion = _fusion(minilm, num_layers=2)
    assert isinstance(fusion, SingleStreamFusion)
    assert fusion.split == minilm.num_layers - 2 == 4
    with pytest.raises(ValueError, match='num_layers=7'):
        _fusion(minilm, num_layers=7)


def test_without_image_exactly_the_text_encoder(minilm, posts):
    ids, mask = posts
    fusion = _fusion(minilm)
    visual = torch.randn(2, 5, 32)
    with torch.no_grad():
        alone = minilm(ids, mask)
        none = fusion(minilm, ids, mask, None, None)
        masked = fusion(minilm, ids, mask, visual, torch.tensor([False, False]))
        mixed = fusion(minilm, ids, mask, visual, torch.tensor([True, False]))
    assert none.visual is None and torch.equal(none.text, alone)
    assert torch.equal(masked.text, alone)
    # the post without image is untouched by its neighbour's image, the other one is fused
    # (a row run in a smaller batch may round differently in BLAS: equal up to that, and see below)
    torch.testing.assert_close(mixed.text[1], alone[1], rtol=0, atol=1e-5)
    assert not torch.allclose(mixed.text[0], alone[0], atol=1e-3)
    assert mixed.visual.shape == (2, 5, minilm.hidden_size)
    assert torch.equal(mixed.visual[1], torch.zeros_like(mixed.visual[1]))
    assert mixed.has_image.tolist() == [True, False]


def test_text_of_a_post_without_image_depends_on_no_visual_input(minilm, posts):
    """The exact guarantee: no visual token reaches the text of a post without an image."""
    ids, mask = posts
    fusion = _fusion(minilm)
    visual = torch.randn(2, 5, 32, requires_grad=True)
    out = fusion(minilm, ids, mask, visual, torch.tensor([True, False]))
    out.text[1].sum().backward(retain_graph=True)
    assert torch.count_nonzero(visual.grad) == 0
    out.text[0].sum().backward()
    assert visual.grad[0].abs().sum() > 0 and torch.count_nonzero(visual.grad[1]) == 0


def test_fused_visual_tokens_see_the_text(minilm, posts):
    ids, mask = posts
    fusion = _fusion(minilm)
    visual = torch.randn(1, 5, 32).expand(2, -1, -1)  # the same image beside two captions
    with torch.no_grad():
        out = fusion(minilm, ids, mask, visual, torch.tensor([True, True]))
    assert not torch.allclose(out.visual[0], out.visual[1], atol=1e-4)


def test_gradients_reach_fusion_layers_and_text_encoder(minilm, posts):
    """A loss on the fused visual tokens alone (as COE/CIR) trains the upper layers, the lower
    layers and the embeddings: the point of PROMU's alignment."""
    ids, mask = posts
    fusion = _fusion(minilm)
    minilm.zero_grad()
    out = fusion(minilm, ids, mask, torch.randn(2, 5, 32), torch.tensor([True, True]))
    out.visual.mean(1).pow(2).sum().backward()
    layers = minilm.model.encoder.layer
    for name, module in (('upper (fusion) layer', layers[5]), ('lower layer', layers[0]),
                         ('embeddings', minilm.model.embeddings), ('projection', fusion.visual_proj)):
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        assert grads and any(g.abs().sum() > 0 for g in grads), name
    assert fusion.visual_type.grad.abs().sum() > 0
    minilm.zero_grad()


def test_other_fusions_follow_the_contract(minilm, posts):
    ids, mask = posts
    with torch.no_grad():
        alone = minilm(ids, mask)
        text_only = build_fusion(dict(type='TextOnlyFusion'), minilm)
        assert isinstance(text_only, TextOnlyFusion)
        assert torch.equal(text_only(minilm, ids, mask).text, alone)
        cross = build_fusion(dict(type='CrossAttentionFusion', visual_channels=32, num_heads=4), minilm).eval()
        assert isinstance(cross, CrossAttentionFusion)
        out = cross(minilm, ids, mask, torch.randn(2, 5, 32), torch.tensor([True, False]))
        ref = cross(minilm, ids, mask, None, None)
    assert out.text.shape == alone.shape
    torch.testing.assert_close(out.text[1], ref.text[1], atol=1e-4, rtol=1e-4)  # other batch shapes
