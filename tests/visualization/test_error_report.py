"""The error report (pmu.visualization.error_report) of hand-written MNER and MRE predictions: its pages,
pictures, confusion CSV and counts agree with the analysis."""
import csv
import glob
import json
import re

import numpy as np
from PIL import Image

from pmu.evaluation.error_analysis import analyse_entities, analyse_relations
from pmu.visualization.error_report import entity_error_message, write_error_report
from pmu.visualization.post_visualizer import PostVisualizer, error_colour

WORDS = 'Kawhi Leonard left Toronto for the LA Clippers in July'.split()
#           Kawhi    Leonard  left  Toronto  for  the  LA       Clippers  in   July
GOLD = [['B-PER', 'I-PER', 'O', 'B-LOC', 'O', 'O', 'B-ORG', 'I-ORG', 'O', 'O'],
        ['B-PER', 'I-PER', 'O', 'B-LOC', 'O', 'O', 'B-ORG', 'I-ORG', 'O', 'O'],
        ['B-PER', 'I-PER', 'O', 'B-LOC', 'O', 'O', 'B-ORG', 'I-ORG', 'O', 'O']]
PRED = [['B-PER', 'I-PER', 'O', 'B-LOC', 'O', 'O', 'B-ORG', 'I-ORG', 'O', 'O'],  # all right
        ['B-PER', 'O', 'O', 'B-ORG', 'O', 'O', 'B-LOC', 'I-LOC', 'O', 'B-MISC'],  # boundary, 2 types, FP
        ['O', 'O', 'O', 'B-LOC', 'O', 'O', 'O', 'B-LOC', 'O', 'O']]                 # miss, boundary and type


class Dataset:
    """What write_error_report reads of a pmu dataset."""

    def __init__(self, infos):
        self.infos = infos

    def get_data_info(self, i):
        return dict(self.infos[i], sample_idx=i)


def ner_analysis():
    a = analyse_entities(list(zip(GOLD, PRED)), types=('PER', 'LOC', 'ORG', 'MISC'))
    for i, p in enumerate(a['posts']):
        p.update(sample_idx=i, img_id=f'tweet{i}')
    infos = [dict(words=WORDS, gt_tags=g, img_path=None, img_id=f'tweet{i}') for i, g in enumerate(GOLD)]
    return a, Dataset(infos)


def count(page, kind):
    return int(re.search(rf'id="count-{kind}">(\d+)<', page).group(1))


def test_mner_report_files_and_counts(tmp_path):
    a, dataset = ner_analysis()
    s = a['summary']
    assert s['errors'] == dict(false_positive=1, miss=1, wrong_type=2, wrong_boundary=1, wrong_boundary_type=1)
    paths = write_error_report(str(tmp_path), dataset, a, metrics={'ner/f1': 40.0}, limit=1, title='valid',
                               progress=False)
    index = open(paths['index'], encoding='utf-8').read()
    errors = open(paths['errors'], encoding='utf-8').read()
    saved = json.load(open(paths['json']))
    assert saved['errors'] == s['errors'] and saved['gold'] == 9 and saved['metrics'] == {'ner/f1': 40.0}
    for page in (index, errors):
        for kind, n in s['errors'].items():
            assert count(page, kind) == n
        assert re.search(r'id="gold">9<', page) and re.search(r'id="posts-with-errors">2<', page)
    assert index.count('<div class="post" data-errors=') == 3
    assert errors.count('<div class="post" data-errors=') == 2 and 'data-errors="0"' not in errors
    # each error listed once, by kind, and each wrong span outlined with its kind
    assert len(re.findall(r'<li class="err err-', index)) == sum(s['errors'].values())
    assert 'class="t-MISC err-false_positive"' in index and 'class="t-LOC err-miss"' not in index
    assert '<b>wrong boundary and type</b>' in index and '&quot;Kawhi Leonard&quot; PER' in index
    # limit=1: the first post with an error only
    assert [p.split('/')[-1] for p in glob.glob(paths['pngs'] + '/*.png')] == ['00001.png']
    assert saved['pngs'] == 1
    with open(paths['confusion'], newline='') as f:
        rows = list(csv.reader(f))
    assert rows[0] == ['gold \\ predicted', 'PER', 'LOC', 'ORG', 'MISC', 'none']
    assert sum(int(x) for r in rows[1:] if r[0] != 'none' for x in r[1:]) == 9  # each gold span once
    lines = [json.loads(line) for line in open(paths['errors_jsonl'])]
    assert [line['sample_idx'] for line in lines] == [1, 2]
    assert sum(len(line['errors']) for line in lines) == sum(s['errors'].values())
    assert lines[1]['errors'][0]['kind'] == 'miss' and lines[1]['errors'][0]['gold'] == ['PER', 0, 2]


def test_messages_say_what_went_wrong():
    msg = entity_error_message
    assert msg(dict(gold=('LOC', 3, 4), pred=('ORG', 3, 4)), WORDS) == '"Toronto" LOC predicted as ORG'
    assert msg(dict(gold=('PER', 0, 2), pred=('PER', 0, 1)), WORDS) == \
        'gold "Kawhi Leonard" PER, predicted "Kawhi" PER'
    assert msg(dict(gold=None, pred=('MISC', 9, 10)), WORDS) == 'predicted "July" MISC: no gold entity there'
    assert msg(dict(gold=('PER', 0, 2), pred=None), WORDS) == 'gold "Kawhi Leonard" PER: nothing predicted there'
    assert msg(dict(gold=None, pred=('ORG', 7, 8), against=('ORG', 6, 8)), WORDS) == \
        'predicted "Clippers" ORG overlaps gold "LA Clippers" ORG, which is paired with another predicted span'


def test_the_picture_shows_gold_prediction_and_errors_in_their_colours(tmp_path):
    a, dataset = ner_analysis()
    write_error_report(str(tmp_path), dataset, a, limit=0, progress=False)
    arr = np.asarray(Image.open(tmp_path / 'posts' / '00002.png').convert('RGB')).astype(int)
    for kind in ('miss', 'wrong_boundary_type'):
        assert (np.abs(arr - np.array(error_colour(kind))).sum(-1) == 0).sum() > 20, kind
    assert len(glob.glob(str(tmp_path / 'posts' / '*.png'))) == 2  # limit=0: every post with an error


def test_mre_report(tmp_path):
    relations = ['None', '/per/per/peer', '/per/org/member_of']
    gold = ['/per/org/member_of', '/per/org/member_of', 'None', '/per/per/peer']
    pred = ['/per/org/member_of', 'None', '/per/per/peer', '/per/org/member_of']
    a = analyse_relations(gold, pred, relations)
    for i, p in enumerate(a['posts']):
        p.update(sample_idx=i, img_id=None, scores={r: (0.8 if r == pred[i] else 0.1) for r in relations})
    infos = [dict(words=WORDS, head=(0, 2), tail=(6, 8), gt_relation=g, img_path=None) for g in gold]
    paths = write_error_report(str(tmp_path), Dataset(infos), a, progress=False)
    page = open(paths['errors'], encoding='utf-8').read()
    for kind in ('wrong_relation', 'missed_relation', 'spurious_relation'):
        assert count(page, kind) == 1
        assert f'<li class="err err-{kind}"' in page
    assert page.count('class="rel"') == 3 and 'gold: /per/per/peer' in page
    assert 'Kawhi Leonard —/per/org/member_of (0.80)→ LA Clippers' in page
    saved = json.load(open(paths['json']))
    assert saved['confusion']['rows'] == relations and saved['pngs'] == 3
    assert sum(map(sum, saved['confusion']['counts'])) == 4


def test_a_page_of_posts_without_errors_is_unchanged():
    vis = PostVisualizer()
    post = dict(text='Kawhi', image=None, entities=[dict(text='Kawhi', type='PER', start=0, end=5)])
    html = vis.post_html(post)
    assert html.startswith('<div class="post">') and 'err' not in html and 'predicted:' not in html
