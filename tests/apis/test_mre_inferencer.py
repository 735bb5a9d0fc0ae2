"""MREInferencer on the real lite MNRE config (MiniLM with the entity markers, EfficientNet-lite).

Weights: the built model's, saved and loaded back (CI has no trained work dir).
"""
import os.path as osp

import pytest
import torch

from pmu.apis import MREInferencer, PMUInferencer
from pmu.structures import PMUDataSample
from tests.conftest import REPO, write_jsonl

CONFIG = osp.join(REPO, 'configs/mre/promu_minilm-effnet_mnre.py')
TEXT = "RT @WLWT: Bill Cosby's star on Hollywood Walk of Fame vandalized"


@pytest.fixture(scope='module')
def rel(tmp_path_factory):
    torch.manual_seed(0)
    built = MREInferencer(CONFIG, random_weights=True, show_progress=False)
    path = str(tmp_path_factory.mktemp('ckpt') / 'best_re_f1_epoch_1.pth')
    torch.save(dict(state_dict=built.model.state_dict()), path)
    return PMUInferencer(CONFIG, path, show_progress=False)


def test_head_and_tail_as_strings_spans_and_lists(rel, tweet_image):
    assert isinstance(rel, MREInferencer) and rel.post_tokenizer.style == 'mnre'
    by_name = rel({'text': TEXT, 'image': tweet_image, 'head': 'Bill Cosby',
                   'tail': 'Hollywood Walk of Fame'})
    start = TEXT.index('Hollywood')
    by_span = rel({'text': TEXT, 'image': tweet_image, 'head': {'start': 10, 'end': 20},
                   'tail': [start, start + len('Hollywood Walk of Fame')]})
    for r in (by_name, by_span):
        assert r['head'] == dict(text='Bill Cosby', start=10, end=20, word_start=3, word_end=5)
        assert r['tail']['text'] == 'Hollywood Walk of Fame'
        assert r['has_image'] is True
        assert set(r['scores']) == set(rel.model.relations)
        assert sum(r['scores'].values()) == pytest.approx(1.0, abs=1e-3)
        assert r['relation'] == max(r['scores'], key=r['scores'].get)
        assert r['score'] == r['scores'][r['relation']]
    assert by_span['scores'] == by_name['scores']
    # a span inside a word takes the whole word
    part = rel({'text': TEXT, 'head': [12, 14], 'tail': 'Fame'})
    assert part['head']['text'] == 'Bill' and part['note'] == 'no image given: ran text-only'


def test_the_relation_matches_the_models_own_prediction(rel):
    """Same words, spans and image state as a dataset sample → the same scores as ``model.predict``."""
    r = rel({'text': TEXT, 'head': 'Bill Cosby', 'tail': 'Hollywood Walk of Fame'})
    words = rel.post_tokenizer.words(TEXT)
    assert words[3:5] == ['Bill', 'Cosby'] and words[5] == "'s"
    data = rel.collate_fn([rel.pipeline(dict(words=words, tokens=list(words), head=(3, 5), tail=(8, 12),
                                             img_path=None, has_image=False, sample_idx=0))])
    with torch.no_grad():
        pred = rel.model.test_step(data)[0]
    assert pred.pred_relation == r['relation']
    assert pred.pred_scores.tolist() == pytest.approx(list(r['scores'].values()), abs=1e-4)


def test_bad_entities_name_where(rel, tmp_path):
    with pytest.raises(ValueError, match=r"inputs\[0\]: tail 'Obama' does not occur in the text"):
        rel({'text': TEXT, 'head': 'Bill Cosby', 'tail': 'Obama'})
    with pytest.raises(ValueError, match=r'inputs\[0\]: head span \[10, 999\) is not inside the text'):
        rel({'text': TEXT, 'head': [10, 999], 'tail': 'Fame'})
    with pytest.raises(ValueError, match=r'inputs\[0\]: head span \[9, 10\) covers no word'):
        rel({'text': TEXT, 'head': [9, 10], 'tail': 'Fame'})  # the space after ':'
    path = write_jsonl(tmp_path / 'pairs.jsonl', [{'text': TEXT, 'head': 'Bill Cosby', 'tail': 'Fame'},
                                                  {'text': TEXT, 'head': 'Bill Cosby'}])
    with pytest.raises(ValueError, match=r'pairs\.jsonl:2: an MRE input needs "head" and "tail"'):
        rel(path)


def test_a_long_post_is_cut_around_the_entities_and_says_so(rel, mmlog):
    filler = ' '.join(['the crowd cheered again'] * 60)
    text = f'{filler} Bill Cosby visited Hollywood Walk of Fame {filler}'
    r = rel({'text': text, 'head': 'Bill Cosby', 'tail': 'Hollywood Walk of Fame'})
    assert r['cropped_words'] > 0
    assert any('words outside the window around the entities' in line for line in mmlog.lines)


def test_the_relation_is_the_models_prediction(rel):
    """forward is the model's test_step: its data sample's pred_relation and pred_scores make the result."""
    item = dict(text=TEXT, head='Bill Cosby', tail='Hollywood Walk of Fame')
    posts = [rel.prepare(rel._check_input(item, 'inputs[0]'))]
    (sample, ) = rel.forward(next(rel.preprocess(posts)))
    assert isinstance(sample, PMUDataSample) and sample.head == (3, 5)
    r = rel(item)
    assert r['relation'] == sample.pred_relation
    assert r['scores'] == {k: round(p, 4) for k, p in zip(rel.model.relations, sample.pred_scores.tolist())}
