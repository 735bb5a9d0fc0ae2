import os.path as osp

from pmu.apis import MNERInferencer, tokenize_post
from pmu.structures import entity_spans
from tests.conftest import REPO


def test_tokenize_post_keeps_twitter_tokens_whole():
    assert tokenize_post("RT @nba: Kawhi's #NBAAwards vote! http://t.co/x1") == [
        'RT', '@nba', ':', "Kawhi's", '#NBAAwards', 'vote', '!', 'http://t.co/x1']


def test_inferencer_on_posts_with_and_without_image(tweet_image):
    ner = MNERInferencer(osp.join(REPO, 'configs/mner/promu_minilm-effnet_twitter2017.py'))
    with_img = ner('Kawhi Leonard wins the NBA fan vote', image=tweet_image)
    missing = ner(['Kawhi', 'Leonard'], image='/nonexistent/x.jpg')
    none = ner('Kawhi Leonard wins')
    assert with_img['has_image'] is True
    assert missing['has_image'] is False and none['has_image'] is False
    for r in (with_img, missing, none):
        assert len(r['tags']) == len(r['words'])
        assert [(e['type'], e['start'], e['end']) for e in r['entities']] == entity_spans(r['tags'])
