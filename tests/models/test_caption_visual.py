"""The caption on the visual side (CaptionVisualTokens): real MiniLM, every fusion, real configs and data."""
import os.path as osp

import pytest
import torch
from mmengine.dataset import pseudo_collate

from pmu.apis.config import load_complete_config
from pmu.datasets.transforms import PackMultimodalInputs, TokenizeWords
from pmu.models.encoders import CaptionVisualTokens
from pmu.registry import MODELS
from pmu.utils.errors import ConfigError
from tests.conftest import MINILM, REPO, require_real_data

WORDS = ['Kawhi', 'Leonard', 'wins', 'the', 'NBA', 'vote']
TAGS = ['O', 'B-PER', 'I-PER', 'B-ORG', 'I-ORG']
CAPTION = 'a basketball player holding a trophy on a stage'
PREPROCESSOR = dict(type='MultimodalDataPreprocessor', pad_token_id=0, mean=[127.5] * 3, std=[127.5] * 3)
FUSIONS = ('SingleStreamFusion', 'HVPNetFusion', 'UMTFusion', 'CrossAttentionFusion')
CAPVIS = 'configs/orthogonality/{}_minilm_twitter2017_capvis-blip2.py'


@pytest.fixture(scope='module')
def steps():
    return TokenizeWords(MINILM, max_length=64, caption_segment='separate'), PackMultimodalInputs()


def _sample(steps, caption, words=WORDS):
    tokenize, pack = steps
    r = dict(words=list(words), gt_tags=['B-PER', 'I-PER', 'O', 'O', 'B-ORG', 'O'][:len(words)],
             image_caption=caption, sample_idx=0)
    return pack(tokenize(r))


def _model(fusion, seed=0):
    torch.manual_seed(seed)
    return MODELS.build(dict(type='MultimodalNER', tags=TAGS, data_preprocessor=PREPROCESSOR,
                             text_encoder=dict(type='HFTextEncoder', name_or_path=MINILM),
                             caption_encoder=dict(type='CaptionVisualTokens'), fusion=dict(type=fusion),
                             head=dict(type='CRFTaggingHead'))).eval()


def test_the_caption_is_encoded_apart_from_the_post():
    pair = TokenizeWords(MINILM, max_length=64)
    apart = TokenizeWords(MINILM, max_length=64, caption_segment='separate', caption_max_length=8)
    alone = pair(dict(words=WORDS))
    out = apart(dict(words=WORDS, image_caption=CAPTION))
    # the post's encoding is the post alone: no second segment, no token types
    assert out['input_ids'] == alone['input_ids'] and out['word_ids'] == alone['word_ids']
    assert 'token_type_ids' not in out
    pieces = apart.tokenizer.convert_ids_to_tokens(out['caption_ids'])
    assert pieces == ['[CLS]', 'a', 'basketball', 'player', 'holding', 'a', 'trophy', '[SEP]']
    assert out['caption_status'] == 'cut'  # 9 words + 2 specials > 8
    assert apart(dict(words=WORDS, image_caption='a trophy'))['caption_status'] == 'whole'
    exact = apart(dict(words=WORDS, image_caption='a basketball player holding a trophy'))  # 6 + 2 = 8
    assert exact['caption_status'] == 'whole' and len(exact['caption_ids']) == 8
    none = apart(dict(words=WORDS, image_caption=None))
    assert none['caption_status'] == 'none' and 'caption_ids' not in none
    with pytest.raises(ValueError, match="'pair' or 'separate'"):
        TokenizeWords(MINILM, caption_segment='both')


def test_the_log_counts_captions_cut_apart_and_never_dropped(tmp_path, mmlog):
    from pmu.datasets import TwitterNERDataset
    (tmp_path / 'valid.txt').write_text('IMGID:1\nKawhi\tB-PER\nwins\tO\n\nIMGID:2\nRain\tO\n\n')
    (tmp_path / 'caps.txt').write_text(f'1.jpg :{CAPTION}\n2.jpg :a trophy\n')
    TwitterNERDataset(ann_file='valid.txt', data_root=str(tmp_path), entity_types=('PER', ),
                      captions=dict(type='CaptionFile', path='caps.txt'),
                      pipeline=[dict(type='TokenizeWords', tokenizer=MINILM, max_length=8,
                                     caption_segment='separate', caption_max_length=8)])
    line = next(x for x in mmlog.lines if 'caption segment of' in x)
    # the caption's own budget is named, and no dropped count: a caption apart never competes with the post
    assert line.endswith('caption segment of 2 samples: 1 whole, 1 cut to fit caption_max_length=8 '
                         '(encoded apart from the post)')


def test_caption_tokens_have_the_layout_of_a_visual_encoder(minilm):
    tokens = CaptionVisualTokens(hidden=minilm.hidden_size, grid=4)
    ids = torch.tensor([[101, 1037, 3066, 102, 0, 0], [101, 1037, 3066, 2652, 4906, 102]])
    mask = (ids != 0).long()
    with torch.no_grad():
        out = tokens(minilm, ids, mask)
        states = minilm(ids, mask)
    assert out.shape == (2, 17, minilm.hidden_size) and tokens.out_channels == minilm.hidden_size
    # the summary token is the mean over the caption's own sub-words: padding is not read
    torch.testing.assert_close(out[0, 0], states[0, :4].mean(0))
    with torch.no_grad():
        short = tokens(minilm, ids[:1, :4], mask[:1, :4])
    torch.testing.assert_close(short[0], out[0], rtol=0, atol=1e-5)
    # 4 sub-words over 16 positions: each state repeated, in reading order
    torch.testing.assert_close(out[0, 1:5], states[0, :1].expand(4, -1))
    torch.testing.assert_close(out[0, 13:17], states[0, 3:4].expand(4, -1))


@pytest.mark.parametrize('fusion', FUSIONS)
def test_every_fusion_fuses_the_post_with_its_caption(fusion, steps):
    model = _model(fusion)
    batch = [_sample(steps, CAPTION), _sample(steps, None), _sample(steps, 'a man in a suit')]
    data = model.data_preprocessor(pseudo_collate(batch), False)
    inputs = data['inputs']
    assert inputs['has_caption'].tolist() == [True, False, True] and not inputs['has_image'].any()
    assert inputs['caption_ids'].shape[0] == 2 and inputs['token_type_ids'] is None
    alone = model.data_preprocessor(pseudo_collate([_sample(steps, None)]), False)['inputs']
    with torch.no_grad():
        fused = model.extract_feat(inputs)
        text = model.extract_feat(alone)
    # a post without a caption gets the states of a batch with no visual side; a caption changes them
    torch.testing.assert_close(fused[1], text[0], rtol=0, atol=1e-5)
    assert (fused[0] - text[0]).abs().max() > 1e-3
    assert (fused[0] - fused[2]).abs().max() > 1e-3  # another caption, other states
    # training reaches the caption's own words (not in any post) through the fusion's visual side
    model.train()
    model.loss(inputs, data['data_samples'])['loss_crf'].backward()
    grad = model.text_encoder.model.get_input_embeddings().weight.grad
    trophy, suit = steps[0].tokenizer.convert_tokens_to_ids(['trophy', 'suit'])
    assert grad[trophy].abs().sum() > 0 and grad[suit].abs().sum() > 0
    preds = model.eval().test_step(pseudo_collate(batch))
    assert [len(p.pred_tags) for p in preds] == [len(WORDS)] * 3


def test_a_batch_without_captions_runs_text_only(steps):
    model = _model('HVPNetFusion')
    data = model.data_preprocessor(pseudo_collate([_sample(steps, None), _sample(steps, None)]), False)
    assert 'caption_ids' not in data['inputs']
    with torch.no_grad():
        fused = model.extract_feat(data['inputs'])
        text = model.text_encoder(data['inputs']['input_ids'], data['inputs']['attention_mask'])
    torch.testing.assert_close(fused, text, rtol=0, atol=0)


def test_one_visual_side_only():
    with pytest.raises(ValueError, match='one visual side'):
        MODELS.build(dict(type='MultimodalNER', tags=TAGS, text_encoder=dict(type='HFTextEncoder', name_or_path=MINILM),
                          visual_encoder=dict(type='EfficientNetLiteEncoder'),
                          caption_encoder=dict(type='CaptionVisualTokens'), fusion=dict(type='UMTFusion'),
                          head=dict(type='CRFTaggingHead')))


@pytest.mark.parametrize('config,fusion,dataset', [
    (CAPVIS.format('promu'), 'SingleStreamFusion', 'twitter2017'),
    (CAPVIS.format('hvpnet'), 'HVPNetFusion', 'twitter2017'),
    (CAPVIS.format('umt'), 'UMTFusion', 'twitter2017'),
    ('configs/orthogonality/umt_minilm_twitter2015_capvis-blip2.py', 'UMTFusion', 'twitter2015')])
def test_the_configs_read_captions_apart_and_no_image(config, fusion, dataset):
    cfg = load_complete_config(osp.join(REPO, config))
    assert cfg.model.visual_encoder is None and cfg.model.caption_encoder.type == 'CaptionVisualTokens'
    assert cfg.model.fusion.type == fusion
    for loader in ('train_dataloader', 'val_dataloader'):
        steps = {s['type']: s for s in cfg[loader].dataset.pipeline}
        assert 'LoadImage' not in steps and steps['TokenizeWords']['caption_segment'] == 'separate'
        assert cfg[loader].dataset.captions.path == f'captions/{dataset}_blip2.txt'
        assert cfg[loader].dataset.ann_file.startswith(f'{dataset}/')


def test_a_pair_segment_beside_a_caption_encoder_is_refused(tmp_path):
    cfg_file = tmp_path / 'pair.py'
    cfg_file.write_text(f"_base_ = '{osp.join(REPO, CAPVIS.format('umt'))}'\n"
                        "train_pipeline = [dict(type='TokenizeWords', caption_segment='pair'),\n"
                        "                  dict(type='PackMultimodalInputs')]\n"
                        "train_dataloader = dict(dataset=dict(pipeline=train_pipeline))\n")
    with pytest.raises(ConfigError, match="caption_segment='pair'.*visual side"):
        load_complete_config(str(cfg_file))


def test_the_real_validation_split_through_the_config(mmlog):
    root = require_real_data('twitter2017/valid.txt', 'captions/twitter2017_blip2.txt')
    from mmengine.registry import DATASETS
    cfg = load_complete_config(osp.join(REPO, CAPVIS.format('hvpnet')))
    ds_cfg = dict(cfg.val_dataloader.dataset, data_root=root)
    ds = DATASETS.build(ds_cfg)
    logged = '\n'.join(mmlog.lines)
    assert 'caption_max_length=64 (encoded apart from the post)' in logged
    first = ds[0]
    assert first['inputs']['caption_ids'] is not None and first['inputs']['img'] is None
    assert first['inputs']['token_type_ids'] is None


def test_inference_reads_the_caption_on_the_visual_side():
    from pmu.apis import PMUInferencer
    torch.manual_seed(0)
    ner = PMUInferencer(osp.join(REPO, CAPVIS.format('umt')), random_weights=True, show_progress=False)
    given, again, other, neither = ner([{'text': 'Kawhi Leonard wins the NBA fan vote', 'caption': CAPTION},
                                        {'text': 'Kawhi Leonard wins the NBA fan vote', 'caption': CAPTION},
                                        {'text': 'Kawhi Leonard wins the NBA fan vote', 'caption': 'a dog'},
                                        {'text': 'Kawhi Leonard wins the NBA fan vote'}])
    assert given['caption'] == CAPTION and given['caption_source'] == 'given' and not given['has_image']
    assert 'no caption and no image given' in neither['note']
    assert given['tag_scores'] == again['tag_scores'] != other['tag_scores'] != neither['tag_scores']
