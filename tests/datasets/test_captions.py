"""Captions of the posts' images: the four file layouts, the real files, datasets and the pair encoding."""
import json

import pytest

from pmu.datasets.captions import CaptionFile, read_captions
from pmu.datasets.text_files import DataFormatError
from pmu.datasets.transforms import TokenizeWords
from tests.conftest import MINILM, require_real_data

POST = ['Kawhi', 'Leonard', 'wins', 'the', 'award']


def _write(path, text):
    path.write_text(text, encoding='utf-8')
    return str(path)


@pytest.mark.parametrize('name, text', [
    ('a.txt', '1.jpg :a man on a stage\n2.jpg :two dogs\n'),
    ('a.json', json.dumps({'1.jpg': 'a man on a stage', '2.jpg': 'two dogs'})),
    ('a.txt', "{'img_id': '1.jpg', 'text': 'a man on a stage'}\n{'img_id': '2.jpg', 'text': \"two dogs\"}\n"),
    ('a.jsonl', '{"image": "1.jpg", "caption": "a man on a stage"}\n\n{"image": "2.jpg", "caption": "two dogs"}\n'),
])
def test_each_layout_is_read_and_recognised(tmp_path, name, text):
    table = read_captions(_write(tmp_path / name, text))
    assert dict(table) == {'1.jpg': 'a man on a stage', '2.jpg': 'two dogs'}
    assert table.counts['records'] == 2


@pytest.mark.parametrize('fmt, text, line, message', [
    ('colon', '1.jpg :fine\nno separator here\n', 2, '<image> :<caption>'),
    ('dict_lines', "{'img_id': '1.jpg', 'text': 'ok'}\n{'img_id': '2.jpg'}\n", 2, "'img_id', 'text'"),
    ('dict_lines', "{'img_id': '1.jpg', 'text': 'ok'\n", 1, 'Python dict literal'),
    ('jsonl', '{"image": "1.jpg", "caption": 3}\n', 1, 'must be a string'),
    ('jsonl', '{"image": "", "caption": "x"}\n', 1, 'non-empty string'),
    ('json', '{"1.jpg": "x",\n "2.jpg": }', 2, 'not valid JSON'),
])
def test_a_bad_record_names_file_and_line(tmp_path, fmt, text, line, message):
    path = _write(tmp_path / 'caps.txt', text)
    with pytest.raises(DataFormatError, match=message) as info:
        read_captions(path, fmt)
    assert f'{path}:{line}:' in str(info.value)


def test_empty_and_repeated_captions_are_counted_not_silent(tmp_path):
    path = _write(tmp_path / 'caps.txt', '1.jpg :first\n1.jpg :first\n1.jpg :other\n2.jpg : \n3.jpg :x  y\n')
    table = read_captions(path)
    assert dict(table) == {'1.jpg': 'first', '3.jpg': 'x y'}  # the first caption wins; spaces normalised
    assert (table.counts['repeated'], table.counts['conflicting'], table.counts['empty']) == (2, 1, 1)


def test_the_real_caption_files():
    root = require_real_data('captions/twitter2017_blip2.txt', 'captions/mnre_blip_val.txt',
                             'captions/twitter2017_catr.json')
    blip2 = CaptionFile('captions/twitter2017_blip2.txt').load(root)
    assert blip2.format == 'colon' and len(blip2) == 4819
    catr = CaptionFile('captions/twitter2017_catr.json').load(root)
    assert catr.format == 'json' and 4000 < len(catr) < 4819  # CATR misses about 7 % of the posts
    mnre = CaptionFile('captions/mnre_blip_val.txt').load(root)
    assert mnre.format == 'dict_lines' and len(mnre) == 928 and mnre.counts['empty'] == 4


def test_a_dataset_attaches_and_counts_captions(tmp_path, mmlog):
    from pmu.datasets import TwitterNERDataset
    root = tmp_path
    (root / 'tw').mkdir()
    _write(root / 'tw' / 'valid.txt', 'IMGID:1\nKawhi\tB-PER\nwins\tO\n\nIMGID:2\nRain\tO\n\nIMGID:3\nok\tO\n')
    _write(root / 'caps.txt', '1.jpg :a basketball player\n3.jpg :a sign\n')
    pipeline = [dict(type='TokenizeWords', tokenizer=MINILM, max_length=8)]
    ds = TwitterNERDataset(ann_file='tw/valid.txt', data_root=str(root), entity_types=('PER', ),
                           captions=dict(type='CaptionFile', path='caps.txt'), pipeline=pipeline)
    assert [ds.get_data_info(i)['image_caption'] for i in range(3)] == ['a basketball player', None, 'a sign']
    logged = '\n'.join(mmlog.lines)
    assert '2/3 samples have a caption' in logged and '1 without one' in logged
    # max_length 8: "[CLS] kawhi wins [SEP]" leaves 3 sub-words for the first caption's 3 words + [SEP]
    assert 'caption segment of 2 samples: 1 whole, 1 cut to fit max_length, 0 dropped' in logged


def test_pair_encoding_keeps_tags_on_the_post():
    t = TokenizeWords(MINILM, max_length=64)
    alone = t(dict(words=POST))
    out = t(dict(words=POST, image_caption='a basketball player holds a trophy'))
    pieces = t.tokenizer.convert_ids_to_tokens(out['input_ids'])
    sep = pieces.index('[SEP]')
    assert pieces[sep + 1:] == ['a', 'basketball', 'player', 'holds', 'a', 'trophy', '[SEP]']
    assert out['word_ids'] == alone['word_ids'] and max(out['word_ids']) < sep
    assert out['token_type_ids'] == [0] * (sep + 1) + [1] * (len(pieces) - sep - 1)
    assert out['caption_status'] == 'whole' and 'token_type_ids' not in alone
    off = TokenizeWords(MINILM, max_length=64, use_caption=False)(dict(words=POST, image_caption='a trophy'))
    assert off['input_ids'] == alone['input_ids'] and off['caption_status'] == 'none'


def test_a_caption_that_exactly_fills_the_room_is_whole_and_one_more_sub_word_is_cut():
    """The pair encoding knows it cut from the tokenizer's overflow, in one pass: a caption of exactly the
    sub-words the post leaves is whole, one sub-word more and it is cut, the post intact either way."""
    t = TokenizeWords(MINILM, max_length=11)  # [CLS] the cat sat [SEP] + 5 caption sub-words + [SEP]
    words = ['the', 'cat', 'sat']
    whole = t(dict(words=words, image_caption=' '.join(['trophy'] * 5)))
    cut = t(dict(words=words, image_caption=' '.join(['trophy'] * 6)))
    assert whole['caption_status'] == 'whole' and cut['caption_status'] == 'cut'
    assert whole['input_ids'] == cut['input_ids'] and len(cut['input_ids']) == 11
    assert cut['word_ids'] == [1, 2, 3] and cut['token_type_ids'] == [0] * 5 + [1] * 6


def test_the_caption_is_cut_before_the_post():
    caption = ' '.join(['trophy'] * 50)
    out = TokenizeWords(MINILM, max_length=16)(dict(words=POST, image_caption=caption))
    assert len(out['input_ids']) == 16 and out['caption_status'] == 'cut'
    assert -1 not in out['word_ids']  # every word of the post kept
    long_post = ['the', 'cat', 'sat', 'on', 'a', 'mat'] * 3  # 18 words of one sub-word each
    out = TokenizeWords(MINILM, max_length=21)(dict(words=long_post, image_caption=caption))
    # [CLS] + 18 + [SEP] = 20: a second [SEP] fits, a caption word does not
    assert out['caption_status'] == 'dropped' and len(out['input_ids']) == 20 and 'token_type_ids' not in out
    assert -1 not in out['word_ids']
