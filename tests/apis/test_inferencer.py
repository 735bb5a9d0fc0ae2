"""MNERInferencer / PMUInferencer on the real lite config (MiniLM + EfficientNet-lite, real tokenizer and CRF).

The weights are the freshly built model's, saved and loaded back as a checkpoint (CI has no
trained work dir); with those, the assertions are about the machinery, not the tags' quality.
"""
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.visualization import Visualizer
from PIL import Image

from pmu.apis import MNERInferencer, PMUInferencer
from pmu.apis.inferencers import word_windows
from pmu.structures import entity_spans
from pmu.visualization import PostVisualizer
from tests.conftest import REPO, write, write_jsonl

CONFIG = osp.join(REPO, 'configs/mner/promu_minilm-effnet_twitter2017.py')


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    """A checkpoint of the built model, in MMEngine's layout; the head made to emit entities."""
    torch.manual_seed(0)
    ner = MNERInferencer(CONFIG, random_weights=True, show_progress=False)
    with torch.no_grad():  # favour PER spans so that posts have entities (and some O)
        bias = ner.model.head.emission.bias
        bias.zero_()
        bias[ner.model.tags.index('B-PER')] = 0.6
        bias[ner.model.tags.index('I-PER')] = 0.4
    path = str(tmp_path_factory.mktemp('ckpt') / 'epoch_1.pth')
    torch.save(dict(meta=dict(epoch=1), state_dict=ner.model.state_dict()), path)
    return path


@pytest.fixture(scope='module')
def ner(checkpoint):
    return PMUInferencer(CONFIG, checkpoint, show_progress=False)


def _check_result(r):
    assert len(r['tags']) == len(r['words']) == len(r['tag_scores'])
    assert [(e['type'], e['word_start'], e['word_end']) for e in r['entities']] == entity_spans(r['tags'])
    # every non-O tag belongs to an entity: no orphan I- is dropped
    assert sum(e['word_end'] - e['word_start'] for e in r['entities']) == sum(t != 'O' for t in r['tags'])
    for e in r['entities']:
        assert r['text'][e['start']:e['end']] == e['text']
        assert 0.0 <= e['score'] <= 1.0
        assert e['score'] == pytest.approx(
            sum(r['tag_scores'][e['word_start']:e['word_end']]) / (e['word_end'] - e['word_start']), abs=1e-3)
    json.dumps(r)


def test_pmu_inferencer_picks_mner_and_loads_the_checkpoint_strictly(ner, checkpoint):
    assert isinstance(ner, MNERInferencer)
    assert ner.weights == checkpoint
    assert ner.post_tokenizer.style == 'twitter2017'
    # a work dir is accepted (its newest epoch_*.pth)
    assert PMUInferencer(CONFIG, osp.dirname(checkpoint), show_progress=False).weights == checkpoint


def test_without_weights_it_refuses_unless_allowed():
    with pytest.raises(ValueError, match='no weights given'):
        PMUInferencer(CONFIG)


def test_strict_loading_refuses_a_partial_checkpoint_and_non_strict_logs_it(checkpoint, tmp_path, mmlog):
    state = torch.load(checkpoint, weights_only=True)['state_dict']
    del state['head.emission.bias']
    partial = str(tmp_path / 'partial.pth')
    torch.save(dict(state_dict=state), partial)
    with pytest.raises(RuntimeError, match='does not match the model'):
        MNERInferencer(CONFIG, partial)
    MNERInferencer(CONFIG, partial, strict=False, show_progress=False)
    assert any('strict=False: 1 tensors missing' in line for line in mmlog.lines)


def test_inputs_string_dict_list_and_jsonl(ner, tweet_image, tmp_path):
    text = "RT @nba: Kawhi Leonard's block wins the vote #NBAAwards"
    one = ner(text)
    assert isinstance(one, dict) and one['words'][:8] == [
        'RT', '@', 'nba', ':', 'Kawhi', 'Leonard', "'", 's']
    assert one['has_image'] is False and one['note'] == 'no image given: ran text-only'
    _check_result(one)
    assert one['entities'], 'the fixture head makes PER spans'
    with_img = ner({'text': text, 'image': tweet_image})
    assert with_img['has_image'] is True and 'note' not in with_img
    missing = ner({'text': text, 'image': str(tmp_path / 'none.jpg')})
    assert missing['has_image'] is False and 'missing or unreadable' in missing['note']
    many = ner([text, {'text': 'Trump visits Paris', 'image': None}], batch_size=2)
    assert [r['text'] for r in many] == [text, 'Trump visits Paris']
    assert many[0]['tags'] == one['tags']
    jsonl = write_jsonl(tmp_path / 'posts.jsonl', [{'text': text, 'id': 7}, {'text': 'Trump visits Paris'}])
    from_file = ner(jsonl, batch_size=2)
    assert [r['tags'] for r in from_file] == [r['tags'] for r in many]
    assert from_file[0]['id'] == 7


def test_bad_inputs_name_where(ner, tmp_path):
    bad = write_jsonl(tmp_path / 'bad.jsonl', [{'text': 'fine'}, b'{"text": "broken"'])
    with pytest.raises(ValueError, match=r'bad\.jsonl:2: not valid JSON'):
        ner(bad)
    no_text = write_jsonl(tmp_path / 'no_text.jsonl', [{'image': 'x.jpg'}])
    with pytest.raises(ValueError, match=r'no_text\.jsonl:1: "text" must be a non-empty string'):
        ner(no_text)
    with pytest.raises(ValueError, match=r'inputs\[1\]: "text"'):
        ner(['fine', {'text': ''}])
    with pytest.raises(FileNotFoundError, match='nothere.jsonl'):
        ner(str(tmp_path / 'nothere.jsonl'))


def test_tags_match_the_models_own_prediction(ner):
    """The inferencer's emissions + CRF give what ``model.predict`` (the evaluation path) gives."""
    texts = ["Kawhi Leonard's block wins the vote", 'Justin Bieber , Rich the Kid and Diplo']
    results = ner(texts, batch_size=2)
    data = ner.collate_fn([ner.pipeline(dict(words=r['words'], img_path=None, has_image=False,
                                             sample_idx=i)) for i, r in enumerate(results)])
    with torch.no_grad():
        preds = ner.model.test_step(data)
    assert [p.pred_tags for p in preds] == [r['tags'] for r in results]


def test_a_3000_word_post_is_predicted_in_windows(ner, mmlog):
    sentence = "Kawhi Leonard ' s Raptors beat the Warriors in Toronto , Canada !"
    text = ' '.join([sentence] * 231)  # 3003 words, 3696 sub-words
    r = ner(text, batch_size=16)
    assert len(r['words']) == len(r['tags']) == 3003
    assert r['windows'] > 1
    assert any(f'predicted in {r["windows"]} overlapping windows' in line for line in mmlog.lines)
    _check_result(r)


def test_word_windows_cover_every_word_within_the_budget():
    costs = [1, 2, 1, 3, 1, 1, 2, 1] * 50
    windows = word_windows(costs, 20)
    assert windows[0][0] == 0 and windows[-1][1] == len(costs)
    for (lo, hi), (next_lo, next_hi) in zip(windows, windows[1:]):
        assert sum(costs[lo:hi]) <= 20
        assert lo < next_lo < hi <= next_hi  # overlapping, moving on
    assert word_windows([1, 2, 3], 20) == [(0, 3)]
    # a word longer than the budget has a window of its own
    windows = word_windows([5, 30, 5], 10)
    assert sorted({w for lo, hi in windows for w in range(lo, hi)}) == [0, 1, 2]


def test_out_dir_and_grounder(checkpoint, tweet_image, tmp_path):
    class RecordingGrounder:  # stands in for pmu.apis.grounding.EntityGrounder (needs a pre-training run)
        def __init__(self):
            self.calls = []

        def ground(self, image_path, entities):
            self.calls.append((image_path, [e['text'] for e in entities]))
            return [None] + [dict(box=[0, 0, 5, 5], label='person', detector_score=0.9, score=0.5)] * (
                len(entities) - 1)

    grounder = RecordingGrounder()
    ner = MNERInferencer(CONFIG, checkpoint, grounder=grounder, show_progress=False)
    posts = [{'text': 'Kawhi Leonard and Drake in Toronto', 'image': tweet_image},
             {'text': 'Kawhi Leonard and Drake', 'image': None}]
    results = ner(posts, out_dir=str(tmp_path / 'out'), pictures=False)
    assert grounder.calls == [(tweet_image, [e['text'] for e in results[0]['entities']])]
    assert results[0]['entities'][0]['region'] is None
    assert all('region' not in e for e in results[1]['entities'])
    with open(tmp_path / 'out' / 'predictions.jsonl', encoding='utf-8') as f:
        assert [json.loads(line) for line in f] == results
    assert not osp.exists(tmp_path / 'out' / 'vis')


def test_pictures_are_the_visualizers_drawings(ner, tweet_image, tmp_path):
    results = ner([{'text': 'Kawhi Leonard wins', 'image': tweet_image}, 'Trump visits Paris'], out_dir=str(tmp_path))
    for i, r in enumerate(results):
        drawn = np.asarray(Image.open(tmp_path / 'vis' / f'{i}.png').convert('RGB'))
        assert np.array_equal(drawn, ner.visualizer.draw_post(r))
    assert osp.isfile(tmp_path / 'predictions.html')


def test_the_visualizer_is_a_private_post_visualizer(ner, checkpoint):
    assert isinstance(ner.visualizer, PostVisualizer) and isinstance(ner.visualizer, Visualizer)
    other = MNERInferencer(CONFIG, checkpoint, show_progress=False)
    assert other.visualizer is not ner.visualizer
    # neither registered under its name nor made MMEngine's current Visualizer (a training run's)
    assert ner.visualizer.instance_name not in Visualizer._instance_dict


def test_a_call_runs_the_stages_through_the_models_predict(ner, monkeypatch):
    """preprocess → forward (the model's test_step, hence predict, once per batch) → merge → visualize →
    postprocess, as MMEngine's BaseInferencer."""
    calls = []

    def spy(name, fn):
        def wrapped(*args, **kwargs):
            calls.append(name)
            return fn(*args, **kwargs)
        return wrapped

    for stage in ('preprocess', 'forward', 'merge', 'visualize', 'postprocess'):
        monkeypatch.setattr(ner, stage, spy(stage, getattr(ner, stage)))
    monkeypatch.setattr(ner.model, 'predict', spy('predict', ner.model.predict))
    results = ner(['Kawhi Leonard wins', 'Trump visits Paris', 'Drake in Toronto'], batch_size=2)
    assert calls == ['preprocess', 'forward', 'predict', 'forward', 'predict', 'merge', 'visualize',
                     'postprocess']
    assert len(results) == 3


def test_a_config_of_another_task_is_refused(checkpoint):
    with pytest.raises(ValueError, match="runs MultimodalNER configs; this config's model.type is 'MultimodalRE'"):
        MNERInferencer(osp.join(REPO, 'configs/mre/promu_minilm-effnet_mnre.py'), checkpoint)
    cfg = write(osp.join(osp.dirname(checkpoint), 'x.py'), "model = dict(type='Pretrainer')\n")
    with pytest.raises(ValueError, match="model.type 'Pretrainer'.*has no inferencer"):
        PMUInferencer(cfg, checkpoint)
