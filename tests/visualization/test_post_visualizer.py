"""PostVisualizer on real COCO-mini images (tweets have no pictures offline) and text-only posts."""
import base64
import os
import os.path as osp
import re

import numpy as np
import pytest
import torch
from mmengine.visualization import Visualizer
from PIL import Image

from pmu.registry import VISUALIZERS
from pmu.structures import PMUDataSample
from pmu.utils.image import load_image
from pmu.visualization import PostVisualizer, char_span, post_from_words, result_from_datasample, type_colour


@pytest.fixture(scope='module')
def image(coco_mini):
    folder = osp.join(coco_mini, 'val2017')
    return osp.join(folder, sorted(os.listdir(folder))[0])


def mner_result(image):
    w, h = load_image(image).image.size
    box = [w * 0.25, h * 0.25, w * 0.75, h * 0.75]
    text = 'Kawhi Leonard wins the NBA fan vote in Toronto'
    return dict(
        text=text, image=image, has_image=True, words=text.split(), tags=[],
        entities=[dict(text='Kawhi Leonard', type='PER', start=0, end=13, score=0.98,
                       region=dict(box=box, label='person', detector_score=0.7, score=0.64)),
                  dict(text='NBA', type='ORG', start=23, end=26, score=0.9, region=None),
                  dict(text='Toronto', type='LOC', start=39, end=46, score=0.8)],
        gold_entities=[dict(text='Kawhi Leonard', type='PER', start=0, end=13)])


def mre_result(image=None):
    text = 'Kawhi Leonard plays for Toronto'
    return dict(text=text, image=image, has_image=image is not None, head=dict(text='Kawhi Leonard', start=0, end=13),
                tail=dict(text='Toronto', start=24, end=31), relation='/per/org/member_of', score=0.87,
                scores={'/per/org/member_of': 0.87, 'None': 0.1})


def test_it_is_a_registered_mmengine_visualizer():
    built = VISUALIZERS.build(dict(type='PostVisualizer', width=320))
    assert isinstance(built, PostVisualizer) and isinstance(built, Visualizer)
    # unnamed builds do not share an instance (MMEngine keeps one per name) ...
    other = VISUALIZERS.build(dict(type='PostVisualizer', width=480))
    assert other is not built and (built.post_width, other.post_width) == (320, 480)
    assert Visualizer.get_current_instance() is other
    # ... named ones do, as every MMEngine visualizer; a direct construction is private
    named = VISUALIZERS.build(dict(type='PostVisualizer', name='test-post-vis', width=200))
    assert VISUALIZERS.build(dict(type='PostVisualizer', name='test-post-vis')) is named
    assert PostVisualizer(name='test-post-vis', width=100) is not named and named.post_width == 200


def mner_sample(image=None):
    words = 'Kawhi Leonard wins the NBA fan vote in Toronto'.split()
    s = PMUDataSample(metainfo=dict(sample_idx=0, words=words, word_ids=list(range(1, 10)), img_path=image,
                                    has_image=image is not None))
    s.gt_tags = ['B-PER', 'I-PER', 'O', 'O', 'B-ORG', 'O', 'O', 'O', 'B-LOC']
    s.pred_tags = ['B-PER', 'I-PER', 'O', 'O', 'B-ORG', 'O', 'O', 'O', 'O']
    return s


def test_add_datasample_draws_gold_and_prediction_as_draw_post(image, tmp_path):
    vis = PostVisualizer()
    out = tmp_path / 'vis' / 'post.png'
    drawn = vis.add_datasample('post', None, mner_sample(image), out_file=str(out))
    expected = vis.draw_post(dict(
        text='Kawhi Leonard wins the NBA fan vote in Toronto', image=image, has_image=True,
        entities=[dict(text='Kawhi Leonard', type='PER', start=0, end=13), dict(text='NBA', type='ORG', start=23,
                                                                                end=26)],
        gold_entities=[dict(text='Kawhi Leonard', type='PER', start=0, end=13),
                       dict(text='NBA', type='ORG', start=23, end=26),
                       dict(text='Toronto', type='LOC', start=39, end=46)]))
    assert np.array_equal(drawn, expected)
    assert np.array_equal(np.asarray(Image.open(out).convert('RGB')), drawn)
    # an image given (an array) replaces the sample's path; the gold alone shows Toronto (LOC), the
    # prediction alone does not (it missed it)
    array = np.asarray(load_image(image).image)
    assert np.array_equal(vis.add_datasample('post', array, mner_sample(), out_file=str(out)), drawn)
    gold_only = vis.add_datasample('post', None, mner_sample(), draw_pred=False, out_file=str(out))
    pred_only = vis.add_datasample('post', None, mner_sample(), draw_gt=False, out_file=str(out))
    loc = np.array(type_colour('LOC'))
    assert (np.abs(gold_only.astype(int) - loc).sum(-1) == 0).sum() > 10
    assert (np.abs(pred_only.astype(int) - loc).sum(-1) == 0).sum() == 0  # Toronto was missed


def test_add_datasample_without_out_file_goes_to_the_backends(tmp_path):
    vis = PostVisualizer(vis_backends=[dict(type='LocalVisBackend')], save_dir=str(tmp_path))
    vis.add_datasample('val_post', None, mner_sample(), step=3)
    assert (tmp_path / 'vis_data' / 'vis_image' / 'val_post_3.png').is_file()


def test_add_datasample_of_a_relation_with_its_scores(tmp_path):
    MEMBER = '/per/org/member_of'
    relations = ['None', MEMBER]
    s = PMUDataSample(metainfo=dict(tokens=['Kawhi', 'Leonard', 'plays', 'for', 'Toronto'],
                                    words=['<e1>', 'Kawhi', 'Leonard', '</e1>', 'plays', 'for', '<e2>', 'Toronto',
                                           '</e2>']))
    s.head, s.tail, s.gt_relation = (0, 2), (4, 5), '/per/org/member_of'
    s.pred_relation, s.pred_scores = '/per/org/member_of', torch.tensor([0.13, 0.87])
    vis = PostVisualizer()
    vis.dataset_meta = dict(relations=relations)
    drawn = vis.add_datasample('rel', None, s, out_file=str(tmp_path / 'rel.png'))
    got = result_from_datasample(s, relations=relations)
    want = mre_result()
    assert got['text'] == want['text'] and got['relation'] == want['relation']
    assert [(got[k]['text'], got[k]['start'], got[k]['end']) for k in ('head', 'tail')] == [
        (want[k]['text'], want[k]['start'], want[k]['end']) for k in ('head', 'tail')]
    assert got['score'] == pytest.approx(0.87) and got['scores'] == pytest.approx({'None': 0.13, MEMBER: 0.87})
    assert got['gold_relation'] == MEMBER
    assert np.array_equal(drawn, vis.draw_post(got))
    with pytest.raises(ValueError, match="add_datasample\\('rel'\\): no data_sample"):
        vis.add_datasample('rel', None)


def test_draw_post_draws_the_image_with_boxes_then_the_text(image, tmp_path):
    vis = PostVisualizer(width=640)
    result = mner_result(image)
    out = tmp_path / 'post.png'
    arr = vis.draw_post(result, str(out))
    img = load_image(image).image
    top = round(img.height * min(640 / img.width, 480 / img.height))
    assert arr.shape[1] == 640 and arr.shape[0] > top + 40 and arr.dtype == np.uint8
    assert np.array_equal(np.asarray(Image.open(out).convert('RGB')), arr)
    # the grounded box is drawn in the PER colour on the image
    per = np.array(type_colour('PER'))
    assert (np.abs(arr[:top].astype(int) - per).sum(-1) == 0).sum() > 100
    # the text panel highlights every type in its (light) colour
    for t in ('PER', 'ORG', 'LOC'):
        assert (np.abs(arr[top:].astype(int) - np.array(type_colour(t))).sum(-1) == 0).sum() > 10, t


def test_a_post_without_image_is_a_text_panel_that_says_so(tmp_path):
    vis = PostVisualizer(width=400)
    arr = vis.draw_post(dict(text='no picture here', image=None, has_image=False, entities=[]))
    assert arr.shape[1] == 400 and arr.shape[0] < 150
    assert tuple(arr[2, 2]) == (235, 235, 235)  # the "no image" panel
    missing = vis.draw_post(dict(text='gone', image=str(tmp_path / 'gone.jpg'), entities=[]))
    assert missing.shape[0] < 150
    assert vis.load(dict(image=str(tmp_path / 'gone.jpg')))[1] == 'no image (gone.jpg: missing)'


def test_relations_are_drawn_and_written(image, tmp_path):
    vis = PostVisualizer()
    assert vis.draw_post(mre_result(image)).shape[1] == 640
    assert vis.draw_post(mre_result()).shape[0] < 200
    page = open(vis.write_html([mre_result(image)], str(tmp_path / 'p.html'))).read()
    assert 'Kawhi Leonard —/per/org/member_of (0.87)→ Toronto' in page


def test_write_html_is_self_contained_with_marks_per_type(image, tmp_path):
    vis = PostVisualizer()
    evil = dict(text='<script>alert(1)</script> Bob', image=None, entities=[dict(text='Bob', type='PER', start=26,
                                                                                    end=29)])
    out = vis.write_html([mner_result(image), evil], str(tmp_path / 'sub' / 'index.html'))
    page = open(out, encoding='utf-8').read()
    assert '<script>' not in page and '&lt;script&gt;' in page
    assert page.count('class="t-PER"') >= 3 and 'class="t-ORG"' in page and 'class="t-LOC"' in page
    assert 'no image' in page and 'no region' in page
    assert not re.search(r'src="(?!data:)', page)  # nothing outside the file
    thumb = re.search(r'data:image/jpeg;base64,([A-Za-z0-9+/=]+)', page).group(1)
    assert base64.b64decode(thumb)[:2] == b'\xff\xd8'


def test_char_offsets_from_words():
    text, ents = post_from_words(['RT', '@nba', ':', 'Kawhi', 'Leonard', 'wins'], [('PER', 3, 5), ('ORG', 1, 2)])
    assert text == 'RT @nba : Kawhi Leonard wins'
    assert [(text[e['start']:e['end']], e['type']) for e in ents] == [('Kawhi Leonard', 'PER'), ('@nba', 'ORG')]
    # offsets that do not hold the text: the text is looked up
    assert char_span(text, dict(text='wins', start=0, end=2)) == (24, 28)
    assert char_span(text, dict(text='absent')) is None
