"""HVPNeT and UMT fusions on the real MiniLM: contract, exact text-only path, MNER/MRE, checkpoints."""
import os.path as osp
import shutil

import pytest
import torch
from mmengine.dataset import pseudo_collate

from pmu.datasets.transforms import ENTITY_MARKERS, InsertEntityMarkers, LoadImage, PackMultimodalInputs, TokenizeWords
from pmu.models.fusion import HVPNetFusion, UMTFusion, build_fusion
from pmu.registry import MODELS
from pmu.utils import resolve_packaged_path
from pmu.utils.checkpoint import load_mapped_checkpoint
from tests.conftest import MINILM

FUSIONS = ('HVPNetFusion', 'UMTFusion')
MARKERS = ENTITY_MARKERS
SENT = (['Kawhi', 'Leonard', 'wins', 'the', 'NBA', 'vote'], ['B-PER', 'I-PER', 'O', 'O', 'B-ORG', 'O'])
TAGS = ['O', 'B-PER', 'I-PER', 'B-LOC', 'I-LOC', 'B-ORG', 'I-ORG', 'B-OTHER', 'I-OTHER']
LITE_VISUAL = dict(type='EfficientNetLiteEncoder')
PREPROCESSOR = dict(type='MultimodalDataPreprocessor', pad_token_id=0, mean=[127.5] * 3, std=[127.5] * 3)


def _fusion(name, minilm, **kw):
    torch.manual_seed(0)
    return build_fusion(dict(type=name, visual_channels=32, **kw), minilm).eval()


def _grid_tokens(n, side=4, channels=32):
    """Random visual tokens laid out as the encoders give them: a summary token, then a side x side grid."""
    return torch.randn(n, 1 + side * side, channels)


# ---------------------------------------------------------------- the fusion modules alone


def test_hvpnet_prefixes_fill_every_layer(minilm, posts):
    ids, mask = posts
    fusion = _fusion('HVPNetFusion', minilm)
    assert isinstance(fusion, HVPNetFusion)
    # text_layers, num_heads and hidden come from MiniLM (6 layers, 12 heads of 32)
    assert len(fusion.gates) == minilm.num_layers == 6
    assert (fusion.num_heads, fusion.head_dim) == (12, 32)
    assert fusion.prefix_len == 16  # pool_sizes (1, 2, 4): laid on the 4 x 4 level
    prefixes = fusion.visual_prefixes(_grid_tokens(2, side=7))
    assert len(prefixes) == 6
    for key, value, pmask in prefixes:
        assert key.shape == value.shape == (2, 12, 16, 32)
        assert pmask.shape == (2, 16) and pmask.all()
    # the gates of different layers mix the levels differently
    assert not torch.allclose(prefixes[0][0], prefixes[5][0])
    with torch.no_grad():
        out = fusion(minilm, ids, mask, _grid_tokens(2), torch.tensor([True, True]))
    assert out.text.shape == ids.shape + (minilm.hidden_size, ) and out.visual is None
    # a smaller pyramid gives a shorter prefix
    assert _fusion('HVPNetFusion', minilm, pool_sizes=(1, 2)).visual_prefixes(_grid_tokens(1))[0][0].shape[2] == 4


def test_hvpnet_says_what_it_does_not_support(minilm):
    with pytest.raises(NotImplementedError, match='no object boxes'):
        _fusion('HVPNetFusion', minilm, use_objects=True)
    with pytest.raises(ValueError, match='square grid'):
        _fusion('HVPNetFusion', minilm).visual_prefixes(torch.randn(1, 11, 32))


def test_umt_shapes(minilm, posts):
    ids, mask = posts
    fusion = _fusion('UMTFusion', minilm)
    assert isinstance(fusion, UMTFusion)
    assert fusion.text_layer.attn.num_heads == minilm.num_heads
    with torch.no_grad():
        out = fusion(minilm, ids, mask, _grid_tokens(2), torch.tensor([True, False]))
    D = minilm.hidden_size
    assert out.text.shape == ids.shape + (D, )
    # the word-aware visual tokens, zeros for the post without image
    assert out.visual.shape == (2, 17, D)
    assert torch.equal(out.visual[1], torch.zeros_like(out.visual[1]))
    assert fusion.aux_text_states is None


def test_umt_auxiliary_text_branch(minilm, posts):
    ids, mask = posts
    fusion = _fusion('UMTFusion', minilm, aux_branch=True)
    with torch.no_grad():
        fusion(minilm, ids, mask, _grid_tokens(2), torch.tensor([True, False]))
        with_image = fusion.aux_text_states
        fusion(minilm, ids, mask, None, None)
    # text-only: every row, and the same whether or not images came along
    assert with_image.shape == ids.shape + (minilm.hidden_size, )
    assert torch.equal(fusion.aux_text_states, with_image)


@pytest.mark.parametrize('name', FUSIONS)
def test_without_image_exactly_the_text_encoder(name, minilm, posts):
    ids, mask = posts
    fusion = _fusion(name, minilm)
    visual = _grid_tokens(2)
    with torch.no_grad():
        alone = minilm(ids, mask)
        none = fusion(minilm, ids, mask, None, None)
        masked = fusion(minilm, ids, mask, visual, torch.tensor([False, False]))
        mixed = fusion(minilm, ids, mask, visual, torch.tensor([True, False]))
    assert torch.equal(none.text, alone)
    assert torch.equal(masked.text, alone)
    # the post without image is untouched by its neighbour's image; the other one is fused
    # (a row run in a smaller batch may round differently in BLAS: equal up to that, and see below)
    torch.testing.assert_close(mixed.text[1], alone[1], rtol=0, atol=1e-5)
    assert (mixed.text[0] - alone[0]).abs().max() > 1e-3
    assert mixed.has_image.tolist() == [True, False]


@pytest.mark.parametrize('name', FUSIONS)
def test_text_of_a_post_without_image_depends_on_no_visual_input(name, minilm, posts):
    ids, mask = posts
    fusion = _fusion(name, minilm)
    visual = _grid_tokens(2).clone().requires_grad_(True)
    out = fusion(minilm, ids, mask, visual, torch.tensor([True, False]))
    out.text[1].sum().backward()
    assert visual.grad is None or torch.count_nonzero(visual.grad) == 0


@pytest.mark.parametrize('name', FUSIONS)
def test_gradients_reach_the_fusion_and_the_text_encoder(name, minilm, posts):
    ids, mask = posts
    fusion = _fusion(name, minilm)
    minilm.zero_grad()
    out = fusion(minilm, ids, mask, _grid_tokens(2), torch.tensor([True, False]))
    out.text[0].pow(2).sum().backward()
    for pname, p in fusion.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, pname
    layers = minilm.model.encoder.layer
    for where, module in (('first layer', layers[0]), ('last layer', layers[-1]),
                          ('embeddings', minilm.model.embeddings)):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters()), where
    # a loss on the post without image trains none of the fusion's parameters
    fusion.zero_grad()
    out = fusion(minilm, ids, mask, _grid_tokens(2), torch.tensor([True, False]))
    out.text[1].pow(2).sum().backward()
    assert all(p.grad is None or not p.grad.any() for p in fusion.parameters())
    minilm.zero_grad()


@pytest.fixture(scope='module')
def effnet():
    from pmu.models import EfficientNetLiteEncoder
    return EfficientNetLiteEncoder().eval()


@pytest.mark.parametrize('name', FUSIONS)
def test_built_from_a_dict_with_everything_filled_in(name, minilm, posts, effnet):
    """``dict(type=...)`` alone: sizes from MiniLM and EfficientNet-lite, then a real image run."""
    fusion = build_fusion(dict(type=name), minilm, effnet).eval()
    D = minilm.hidden_size
    if name == 'HVPNetFusion':
        assert fusion.encoder_conv[0].in_features == 3 * effnet.out_channels
        assert fusion.encoder_conv[-1].out_features == 3 * 2 * D
        assert len(fusion.gates) == minilm.num_layers and fusion.num_heads == minilm.num_heads
    else:
        assert fusion.visual_to_text.in_features == effnet.out_channels
        assert fusion.out_proj.out_features == D
        assert fusion.text_layer.attn.num_heads == minilm.num_heads
    ids, mask = posts
    torch.manual_seed(0)
    with torch.no_grad():
        visual = effnet(torch.randn(2, 3, 224, 224))  # [2, 1 + 7 * 7, 1280]
        out = fusion(minilm, ids, mask, visual, torch.tensor([True, False]))
        alone = minilm(ids, mask)
    assert visual.shape == (2, 50, 1280)
    assert out.text.shape == alone.shape
    torch.testing.assert_close(out.text[1], alone[1], rtol=0, atol=1e-5)


# ---------------------------------------------------------------- MNER and MRE models


def _ner_model(fusion, text_encoder=None, visual_encoder=LITE_VISUAL):
    torch.manual_seed(0)
    m = MODELS.build(
        dict(
            type='MultimodalNER',
            tags=TAGS,
            data_preprocessor=PREPROCESSOR,
            text_encoder=text_encoder or dict(type='HFTextEncoder', name_or_path=MINILM),
            visual_encoder=visual_encoder,
            fusion=dict(type=fusion),
            head=dict(type='CRFTaggingHead', dropout=0.1)))
    m.init_weights()
    return m


def _ner_batch(image, tokenizer=MINILM):
    """Two posts through the real pipeline, the first with an image, the second without."""
    pipeline = [LoadImage(size=(64, 64)), TokenizeWords(tokenizer), PackMultimodalInputs()]
    out = []
    for i, with_image in enumerate((True, False)):
        r = dict(words=SENT[0], gt_tags=SENT[1], sample_idx=i, has_image=with_image,
                 img_path=image if with_image else None)
        for t in pipeline:
            r = t(r)
        out.append(r)
    return pseudo_collate(out)


def _loss_and_predict_ner(model, data):
    batch = model.data_preprocessor(data, True)
    assert batch['inputs']['has_image'].tolist() == [True, False]
    model.train()
    losses = model(**batch, mode='loss')
    assert set(losses) == {'loss_crf'} and torch.isfinite(losses['loss_crf'])
    losses['loss_crf'].backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.fusion.parameters())
    assert model.text_encoder.model.embeddings.word_embeddings.weight.grad.abs().sum() > 0
    model.zero_grad()
    model.eval()
    with torch.no_grad():
        preds = model(**batch, mode='predict')
    for s in preds:
        assert len(s.pred_tags) == len(SENT[0]) and set(s.pred_tags) <= set(TAGS)
    return batch


@pytest.mark.parametrize('name', FUSIONS)
def test_mner_model_with_lite_encoders(name, tweet_image):
    model = _ner_model(name)
    batch = _loss_and_predict_ner(model, _ner_batch(tweet_image))
    # the model's own text-only path: the post without image gets the text encoder's states
    with torch.no_grad():
        fused = model.extract_feat(batch['inputs'])
        alone = model.text_encoder(batch['inputs']['input_ids'], batch['inputs']['attention_mask'])
    torch.testing.assert_close(fused[1], alone[1], rtol=0, atol=1e-5)
    assert (fused[0] - alone[0]).abs().max() > 1e-3


@pytest.fixture(scope='module')
def base_layout(tmp_path_factory):
    """Small random stand-ins with the layout of the base encoders (BERT: 12 heads; ViT: [CLS] + patches).

    bert-base-uncased and ViT-B/16 need the hub; these have the same code paths
    at a size that fits a test (MiniLM's vocabulary and tokenizer).
    """
    from transformers import BertConfig, ViTConfig
    root = tmp_path_factory.mktemp('base_layout')
    bert, vit = root / 'bert', root / 'vit'
    BertConfig(hidden_size=96, num_hidden_layers=3, num_attention_heads=12,
               intermediate_size=384).save_pretrained(bert)
    src = resolve_packaged_path(MINILM)
    for f in ('vocab.txt', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'):
        shutil.copy(osp.join(src, f), bert / f)
    ViTConfig(image_size=64, patch_size=16, hidden_size=48, num_hidden_layers=2, num_attention_heads=4,
              intermediate_size=96).save_pretrained(vit)
    return str(bert), str(vit)


@pytest.mark.parametrize('name', FUSIONS)
def test_mner_model_with_base_layout_encoders(name, tweet_image, base_layout):
    bert, vit = base_layout
    model = _ner_model(
        name,
        text_encoder=dict(type='HFTextEncoder', name_or_path=bert, pretrained=False),
        visual_encoder=dict(type='HFVisionEncoder', name_or_path=vit, pretrained=False))
    if name == 'HVPNetFusion':
        # ViT's 4 x 4 patches (64 px / 16) as the grid; BERT's 12 heads of 8
        assert (len(model.fusion.gates), model.fusion.num_heads, model.fusion.head_dim) == (3, 12, 8)
    _loss_and_predict_ner(model, _ner_batch(tweet_image, tokenizer=bert))


@pytest.mark.parametrize('name', FUSIONS)
def test_mre_model_with_lite_encoders(name, mnre_root):
    from pmu.datasets import MNREDataset
    from pmu.datasets.mnre import read_rel2id
    relations = read_rel2id(osp.join(mnre_root, 'mnre', 'rel2id.json'))
    torch.manual_seed(0)
    model = MODELS.build(
        dict(
            type='MultimodalRE',
            relations=relations,
            data_preprocessor=PREPROCESSOR,
            text_encoder=dict(type='HFTextEncoder', name_or_path=MINILM, extra_special_tokens=MARKERS),
            visual_encoder=LITE_VISUAL,
            fusion=dict(type=name),
            head=dict(type='RelationClassificationHead', dropout=0.1)))
    model.init_weights()
    tokenize = dict(tokenizer=MINILM, max_length=128)
    pipeline = [
        LoadImage(size=(64, 64)),
        InsertEntityMarkers(markers=MARKERS, **tokenize),
        TokenizeWords(extra_special_tokens=MARKERS, **tokenize),
        PackMultimodalInputs(meta_keys=('sample_idx', 'img_path', 'has_image', 'words', 'word_ids',
                                        'head_marker', 'tail_marker')),
    ]
    # MNRE validation instance 0 has its image offline, instance 7 does not
    ds = MNREDataset(ann_file='mnre/mnre_val.txt', data_root=mnre_root,
                     data_prefix=dict(img_path='mnre/img_org/val'), test_mode=True, pipeline=pipeline,
                     indices=[0, 7])
    batch = model.data_preprocessor(pseudo_collate([ds[0], ds[1]]), True)
    inputs, samples = batch['inputs'], batch['data_samples']
    assert inputs['has_image'].tolist() == [True, False]

    model.train()
    losses = model(inputs, samples, mode='loss')
    assert list(losses) == ['loss_rel'] and torch.isfinite(losses['loss_rel'])
    losses['loss_rel'].backward()
    # the relation head reads FusionOutput.text at the markers: the fusion is trained through it
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.fusion.parameters())
    model.zero_grad()

    model.eval()
    with torch.no_grad():
        out = model(inputs, samples, mode='predict')
        head, tail = model.entity_features(inputs, samples)
        alone = model.text_encoder(inputs['input_ids'], inputs['attention_mask'])
    for s in out:
        assert s.pred_relation in relations and s.pred_scores.sum() == pytest.approx(1, abs=1e-5)
    # the marker states of the post without image are the text encoder's own, the other's are fused
    h0, h1 = (s.word_ids[s.head_marker] for s in samples)
    torch.testing.assert_close(head[1], alone[1, h1], rtol=0, atol=1e-5)
    assert (head[0] - alone[0, h0]).abs().max() > 1e-3


# ---------------------------------------------------------------- from pre-training


@pytest.mark.parametrize('name', FUSIONS)
def test_encoders_load_from_a_pretraining_like_checkpoint(name, tmp_path):
    """A PROMU (single-stream) model's encoders initialise the baseline; its own fusion stays as built."""
    source = _ner_model('SingleStreamFusion')
    with torch.no_grad():  # as if pre-training had moved the encoders off their initial weights
        for p in list(source.text_encoder.parameters()) + list(source.visual_encoder.parameters()):
            p.add_(0.01 * torch.randn_like(p))
    path = str(tmp_path / 'pretrain.pth')
    torch.save({'state_dict': source.state_dict()}, path)

    model = _ner_model(name)
    fusion_before = {k: v.clone() for k, v in model.fusion.state_dict().items()}
    src, own = source.state_dict(), model.state_dict()
    encoder_keys = [k for k in src if k.startswith(('text_encoder.', 'visual_encoder.'))]
    assert any(not torch.equal(own[k], src[k]) for k in encoder_keys)
    key_map = {'text_encoder.': 'text_encoder.', 'visual_encoder.': 'visual_encoder.'}
    result = load_mapped_checkpoint(model, path, key_map=key_map)
    own = model.state_dict()
    assert encoder_keys and all(torch.equal(own[k], src[k]) for k in encoder_keys)
    assert all(torch.equal(own['fusion.' + k], v) for k, v in fusion_before.items())
    # the single-stream fusion's keys were left out; the baseline's own are the ones missing
    assert not result.unexpected_keys
    assert {k.split('.')[0] for k in result.missing_keys} == {'fusion', 'head'}
