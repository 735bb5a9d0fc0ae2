"""New posts are split into words the way the training files are (real Twitter-2015/2017 and MNRE files)."""
import ast
import re

import pytest

from pmu.apis import PostTokenizer, tokenize_post
from pmu.apis.inferencers.tokenizer import style_of_config
from pmu.datasets import read_conll
from tests.conftest import require_real_data

CLITICS = {'s', 't', 're', 've', 'll', 'd', 'm', 'S', 'T'}


def detokenize(tokens, style):
    """A post as it would have been typed: punctuation and contractions glued, ``@``/``#`` to their name
    where the style splits them."""
    out = ''
    glue_next = False
    for i, w in enumerate(tokens):
        prev = tokens[i - 1] if i else None
        glue, glue_next = glue_next or i == 0, False
        if w in {',', '.', '!', '?', ':', ';', ')', ']', '…'}:
            glue = True
        if (style != 'mnre' and w in ("'", '’') and prev and re.match(r'\w', prev[-1])
                and i + 1 < len(tokens) and tokens[i + 1] in CLITICS):
            glue = glue_next = True
        if style == 'mnre' and re.fullmatch(r"['’](s|S|m|re|ve|ll|d)|n['’]t", w):
            glue = True
        if w in ('(', '[') or (w == '#' and style != 'twitter2015') or (w == '@' and style == 'twitter2017'):
            glue_next = True
        out += ('' if glue else ' ') + w
    return out


def conll_sentences(path):
    return [tokens for _, tokens, _, _ in read_conll(path)]


def roundtrip_rate(sentences, style):
    tok = PostTokenizer(style)
    same = 0
    for tokens in sentences:
        text = detokenize(tokens, style)
        spans = tok(text)
        assert all(text[s:e] == w for w, s, e in spans)
        same += [w for w, _, _ in spans] == tokens
    return same / len(sentences)


# measured on the training files: Twitter-2017 99.97 %, Twitter-2015 94.35 %, MNRE 95.88 %
@pytest.mark.parametrize('style,path,minimum', [
    ('twitter2017', 'twitter2017/train.txt', 0.99),
    ('twitter2015', 'twitter2015/train.txt', 0.93),
    ('mnre', 'mnre/mnre_train.txt', 0.95),
])
def test_retokenising_detokenised_training_posts_gives_their_tokens(style, path, minimum):
    root = require_real_data(path)
    if style == 'mnre':
        with open(f'{root}/{path}', encoding='utf-8') as f:
            sentences = [ast.literal_eval(line)['token'] for line in f if line.strip()]
    else:
        sentences = conll_sentences(f'{root}/{path}')
    assert len(sentences) > 3000
    assert roundtrip_rate(sentences, style) >= minimum


def test_styles_split_as_their_datasets():
    text = "RT @nba: Kawhi Leonard's #NBAAwards vote! 😂❤️ http://t.co/x1 don't"
    assert tokenize_post(text) == [
        'RT', '@', 'nba', ':', 'Kawhi', 'Leonard', "'", 's', '#', 'NBAAwards', 'vote', '!',
        '😂', '❤', '\ufe0f', 'http://t.co/x1', 'don', "'", 't']
    assert PostTokenizer('twitter2015').words(text)[:9] == [
        'RT', '@nba', ':', 'Kawhi', 'Leonard', "'", 's', '#NBAAwards', 'vote']
    assert PostTokenizer('mnre').words(text) == [
        'RT', '@nba', ':', 'Kawhi', 'Leonard', "'s", '#', 'NBAAwards', 'vote', '!',
        '😂', '❤', '\ufe0f', 'http://t.co/x1', 'do', "n't"]
    for style in ('twitter2017', 'twitter2015', 'mnre'):
        assert all(text[s:e] == w for w, s, e in PostTokenizer(style)(text))
    with pytest.raises(ValueError, match="unknown tokenisation style 'conll'"):
        PostTokenizer('conll')


def test_the_style_follows_the_config():
    from mmengine.config import Config

    from tests.conftest import REPO
    for config, style in (('mner/promu_minilm-effnet_twitter2017.py', 'twitter2017'),
                          ('mner/promu_minilm-effnet_twitter2015.py', 'twitter2015'),
                          ('mner/promu_minilm-effnet_twitter2015-hvpnet.py', 'twitter2015'),
                          ('mre/promu_minilm-effnet_mnre.py', 'mnre')):
        assert style_of_config(Config.fromfile(f'{REPO}/configs/{config}')) == style
