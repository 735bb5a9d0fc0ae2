import os.path as osp

import pytest
import torch
from mmengine.dataset import pseudo_collate

from pmu.apis.config import load_complete_config
from pmu.datasets.transforms import LoadImage, PackMultimodalInputs, TokenizeWords
from pmu.registry import MODELS
from tests.conftest import MINILM, REPO

LITE = osp.join(REPO, 'configs/mner/promu_minilm-effnet_twitter2017.py')


@pytest.fixture(scope='module')
def model():
    cfg = load_complete_config(LITE)
    torch.manual_seed(0)
    m = MODELS.build(cfg.model)
    m.init_weights()
    return m.eval()


def _batch(image, items, max_length=None):
    """``items``: (words, tags, has_image) → a collated batch through the real pipeline, ``image`` for the
    samples that have one."""
    pipeline = [LoadImage(size=(224, 224)), TokenizeWords(MINILM, **({'max_length': max_length} if max_length else {})),
                PackMultimodalInputs()]
    out = []
    for i, (words, tags, with_image) in enumerate(items):
        r = dict(words=words, gt_tags=tags, sample_idx=i,
                 img_path=image if with_image else None,
                 has_image=with_image)
        for t in pipeline:
            r = t(r)
        out.append(r)
    return pseudo_collate(out)


SENT = (['Kawhi', 'Leonard', 'wins', 'the', 'NBA', 'vote'],
        ['B-PER', 'I-PER', 'O', 'O', 'B-ORG', 'O'])


def test_three_modes(model, tweet_image):
    batch = model.data_preprocessor(_batch(tweet_image, [SENT + (True, ), SENT + (False, )]), True)
    model.train()
    losses = model(**batch, mode='loss')
    assert set(losses) == {'loss_crf'} and torch.isfinite(losses['loss_crf'])
    losses['loss_crf'].backward()
    assert model.text_encoder.model.embeddings.word_embeddings.weight.grad.abs().sum() > 0
    # the image of sample 0 reached the visual encoder
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in model.fusion.visual_proj.parameters())
    model.zero_grad()
    model.eval()
    with torch.no_grad():
        emissions = model(**batch, mode='tensor')
        preds = model(**batch, mode='predict')
    assert emissions.shape == (2, 6, len(model.tags))
    for b, s in enumerate(preds):
        assert len(s.pred_tags) == 6 and set(s.pred_tags) <= set(model.tags)
        # the emissions predict decoded, those of tensor mode, decoding back to its tags
        torch.testing.assert_close(s.pred_emissions, emissions[b])
        path = model.head.decode(s.pred_emissions[None], torch.ones(1, 6, dtype=torch.bool))[0]
        assert [model.tags[t] for t in path] == s.pred_tags


def test_predict_gives_the_emissions_of_the_words_truncation_kept(model, tweet_image):
    words, tags = SENT[0] * 12, SENT[1] * 12  # 72 words
    raw = _batch(tweet_image, [(words, tags, False)], max_length=32)
    kept = sum(i >= 0 for i in raw['data_samples'][0].word_ids)
    assert 0 < kept < 72  # 32 sub-words with [CLS] and [SEP]
    with torch.no_grad():
        (s, ) = model(**model.data_preprocessor(raw, False), mode='predict')
    assert s.pred_emissions.shape == (kept, len(model.tags)) and s.pred_emissions.dtype == torch.float32
    assert len(s.pred_tags) == 72 and s.pred_tags[kept:] == ['O'] * (72 - kept)


def test_sample_without_image_is_masked_not_fed_a_black_image(model, tweet_image):
    calls = []
    hook = model.visual_encoder.register_forward_hook(
        lambda m, args, out: calls.append(args[0].shape[0]))
    try:
        with torch.no_grad():
            mixed = model.data_preprocessor(
                _batch(tweet_image, [SENT + (True, ), SENT + (False, )]), False)
            alone = model.data_preprocessor(_batch(tweet_image, [SENT + (False, )]), False)
            f_mixed = model.extract_feat(mixed['inputs'])
            f_alone = model.extract_feat(alone['inputs'])
    finally:
        hook.remove()
    # the visual encoder saw exactly one image in the mixed batch and none otherwise
    assert calls == [1]
    assert alone['inputs']['images'] is None
    # the text-only sample gets the same states whether or not its batch has images...
    torch.testing.assert_close(f_mixed[1], f_alone[0], atol=1e-5, rtol=1e-5)
    # ...while the image really changes the states of the sample that has one
    assert (f_mixed[0] - f_mixed[1]).abs().max() > 1e-3


def test_text_only_config_has_no_visual_side():
    cfg = load_complete_config(osp.join(REPO, 'configs/mner/textonly_minilm_twitter2017.py'))
    m = MODELS.build(cfg.model)
    assert m.visual_encoder is None and type(m.fusion).__name__ == 'TextOnlyFusion'
    assert all(t['type'] != 'LoadImage' for t in cfg.train_dataloader.dataset.pipeline)


def test_unavailable_model_names_what_to_do(tmp_path):
    from pmu.models import HFTextEncoder
    with pytest.raises(OSError, match=r'(?s)Could not load .*lite\* config'):
        HFTextEncoder(name_or_path=str(tmp_path / 'no-such-model'))
