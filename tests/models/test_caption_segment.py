"""The caption segment through real models: every fusion, with and without an image, MNER and MRE."""
import pytest
import torch
from mmengine.dataset import pseudo_collate

from pmu.datasets.transforms import InsertEntityMarkers, LoadImage, PackMultimodalInputs, TokenizeWords
from pmu.registry import MODELS
from tests.conftest import MINILM

WORDS = ['Kawhi', 'Leonard', 'wins', 'the', 'NBA', 'vote']
TAGS = ['O', 'B-PER', 'I-PER', 'B-ORG', 'I-ORG']
CAPTION = 'a basketball player holding a trophy on a stage'
PREPROCESSOR = dict(type='MultimodalDataPreprocessor', pad_token_id=0, mean=[127.5] * 3, std=[127.5] * 3)
FUSIONS = ('TextOnlyFusion', 'SingleStreamFusion', 'HVPNetFusion', 'UMTFusion', 'CrossAttentionFusion')


@pytest.fixture(scope='module')
def steps():
    return (LoadImage(size=(224, 224)), TokenizeWords(MINILM, max_length=64), PackMultimodalInputs())


def _sample(steps, image, caption, words=WORDS):
    load, tokenize, pack = steps
    r = dict(words=list(words), gt_tags=['B-PER', 'I-PER', 'O', 'O', 'B-ORG', 'O'][:len(words)],
             img_path=image, image_caption=caption, sample_idx=0)
    return pack(tokenize(load(r)))


def _model(fusion):
    torch.manual_seed(0)
    visual = None if fusion == 'TextOnlyFusion' else dict(type='EfficientNetLiteEncoder')
    return MODELS.build(dict(type='MultimodalNER', tags=TAGS, data_preprocessor=PREPROCESSOR,
                             text_encoder=dict(type='HFTextEncoder', name_or_path=MINILM),
                             visual_encoder=visual, fusion=dict(type=fusion), head=dict(type='CRFTaggingHead'))).eval()


@pytest.mark.parametrize('fusion', FUSIONS)
def test_every_fusion_reads_the_caption_beside_the_image(fusion, steps, tweet_image):
    model = _model(fusion)
    batch = [_sample(steps, tweet_image, CAPTION), _sample(steps, None, CAPTION), _sample(steps, None, None)]
    data = model.data_preprocessor(pseudo_collate(batch), False)
    types = data['inputs']['token_type_ids']
    assert types.shape == data['inputs']['input_ids'].shape
    assert types[0].sum() == types[1].sum() > 0 and not types[2].any()  # the caption is segment 1
    with torch.no_grad():
        preds = model.test_step(pseudo_collate(batch))
        feats, mask = model.word_features(data['inputs'], data['data_samples'])
        # the same post without the caption: its words read other states (the caption is context)
        no_caption = model.data_preprocessor(pseudo_collate([_sample(steps, None, None)]), False)
        alone, _ = model.word_features(no_caption['inputs'], no_caption['data_samples'])
    assert feats.shape[:2] == (3, len(WORDS)) and mask.all()  # tags only on the post's words
    assert all(len(p.pred_tags) == len(WORDS) for p in preds)
    assert preds[0].has_image and not preds[1].has_image
    assert (feats[1] - alone[0]).abs().max() > 1e-3
    torch.testing.assert_close(feats[2], alone[0], rtol=0, atol=1e-5)


def test_segment_embeddings_are_used(steps):
    """The caption's sub-words get BERT's second token type: with all-zero types the states differ."""
    model = _model('TextOnlyFusion')
    data = model.data_preprocessor(pseudo_collate([_sample(steps, None, CAPTION)]), False)
    ids, mask, types = (data['inputs'][k] for k in ('input_ids', 'attention_mask', 'token_type_ids'))
    with torch.no_grad():
        typed = model.text_encoder(ids, mask, types)
        untyped = model.text_encoder(ids, mask)
    assert (typed - untyped).abs().max() > 1e-2


def test_mre_markers_stay_in_the_post(steps):
    from pmu.datasets.transforms import ENTITY_MARKERS
    markers = InsertEntityMarkers(ENTITY_MARKERS, tokenizer=MINILM, max_length=24)
    tokenize = TokenizeWords(MINILM, max_length=24, extra_special_tokens=ENTITY_MARKERS)
    r = markers(dict(words=list(WORDS), head=(0, 2), tail=(4, 5)))
    r = tokenize(dict(r, image_caption=' '.join(['trophy'] * 40)))
    assert r['caption_status'] == 'cut' and len(r['input_ids']) == 24
    pieces = tokenize.tokenizer.convert_ids_to_tokens(r['input_ids'])
    first_sep = pieces.index('[SEP]')
    for marker in (r['head_marker'], r['tail_marker']):
        assert 0 < r['word_ids'][marker] < first_sep
    assert pieces[r['word_ids'][r['head_marker']]] == ENTITY_MARKERS[0]
    assert pieces[first_sep + 1:-1] == ['trophy'] * (24 - first_sep - 2)


def test_mpnet_pair_encoding_fills_the_room_exactly_and_says_when_it_cut():
    """MPNet's pair encoding (``<s> post </s></s> caption </s>``: three specials, no token types): a
    caption of exactly the room is whole, one sub-word more is cut to the same 12 sub-words."""
    from tests.models.conftest import require_real_mpnet
    t = TokenizeWords(require_real_mpnet(), max_length=12)  # <s> the cat sat </s></s> + 5 + </s>
    words = ['the', 'cat', 'sat']
    whole = t(dict(words=words, image_caption=' '.join(['trophy'] * 5)))
    cut = t(dict(words=words, image_caption=' '.join(['trophy'] * 6)))
    assert (whole['caption_status'], cut['caption_status']) == ('whole', 'cut')
    assert whole['input_ids'] == cut['input_ids'] and len(cut['input_ids']) == 12
    pieces = t.tokenizer.convert_ids_to_tokens(cut['input_ids'])
    assert pieces[4:6] == ['</s>', '</s>'] and pieces[6:11] == ['trophy'] * 5 and cut['word_ids'] == [1, 2, 3]
    assert 'token_type_ids' not in cut
