"""Bad Twitter and MNRE annotation files: each stops with an error naming file and line, or is counted.

Real parts throughout: the datasets' own readers, MiniLM's tokenizer, the real Twitter-2017 file
where it is there.
"""
import os
import os.path as osp

import pytest

from pmu.datasets import DataFormatError, MNREDataset, TwitterNERDataset
from tests.conftest import MINILM, require_real_data, write

TYPES = ('PER', 'LOC', 'ORG', 'MISC')
TOKENIZE = [dict(type='TokenizeWords', tokenizer=MINILM, max_length=128)]
GOOD_TWEET = 'IMGID:1\nEU\tB-ORG\nrejects\tO\nGerman\tB-MISC\ncall\tO\n'
GOOD_MNRE = ("{'token': ['Bill', 'Cosby', 'visits', 'Hollywood'], "
             "'h': {'name': 'Bill Cosby', 'pos': [0, 2]}, 't': {'name': 'Hollywood', 'pos': [3, 4]}, "
             "'img_id': 'x.jpg', 'relation': '/per/misc/present_in'}")


def _tweets(tmp_path, data, **kwargs):
    path = tmp_path / 'f.txt'
    path.write_bytes(data if isinstance(data, bytes) else data.encode('utf-8'))
    kwargs.setdefault('entity_types', TYPES)
    return TwitterNERDataset(ann_file=str(path), data_root=str(tmp_path), **kwargs)


def _mnre(root, data, **kwargs):
    path = root / 'mnre' / 'bad.txt'
    path.write_bytes(data if isinstance(data, bytes) else data.encode('utf-8'))
    return MNREDataset(ann_file='mnre/bad.txt', data_root=str(root), **kwargs)


# ------------------------------------------------------------------------------------------ encodings

def test_twitter_line_not_utf8_names_file_and_line(tmp_path):
    data = (GOOD_TWEET + '\nIMGID:2\ncaf\xe9\tO\n').encode('latin-1')
    with pytest.raises(DataFormatError, match=r"f\.txt:8: not UTF-8 \(byte b'\\xe9' at column 4"):
        _tweets(tmp_path, data)


def test_mnre_line_not_utf8_names_file_and_line(tmp_mnre):
    data = (GOOD_MNRE + '\n' + GOOD_MNRE.replace('Hollywood', 'Hollyw\xf6od')).encode('latin-1')
    with pytest.raises(DataFormatError, match=r'bad\.txt:2: not UTF-8'):
        _mnre(tmp_mnre, data)


def test_utf8_bom_and_crlf_are_read_as_text(tmp_path):
    ds = _tweets(tmp_path, b'\xef\xbb\xbf' + GOOD_TWEET.replace('\n', '\r\n').encode())
    info = ds.get_data_info(0)
    assert info['img_id'] == '1' and info['words'] == ['EU', 'rejects', 'German', 'call']
    assert info['gt_tags'] == ['B-ORG', 'O', 'B-MISC', 'O']


# ------------------------------------------------------------------------------------------ CoNLL columns

def test_three_column_conll_is_an_error_naming_file_and_line(tmp_path):
    with pytest.raises(DataFormatError) as e:
        _tweets(tmp_path, 'IMGID:1\nEU\tNNP\tB-ORG\nrejects\tVBZ\tO\n')
    assert str(e.value).startswith(f'{tmp_path / "f.txt"}:2: expected 2 tab-separated columns')
    assert "got 3: 'EU\\tNNP\\tB-ORG'" in str(e.value) and 'set tag_column' in str(e.value)


def test_three_column_conll_with_tag_column_reads_token_and_tag(tmp_path):
    ds = _tweets(tmp_path, 'IMGID:1\nEU\tNNP\tB-ORG\nrejects\tVBZ\tO\n', tag_column=-1)
    assert ds.get_data_info(0)['words'] == ['EU', 'rejects']
    assert ds.get_data_info(0)['gt_tags'] == ['B-ORG', 'O']


def test_tag_column_pointing_at_the_token_is_refused(tmp_path):
    with pytest.raises(DataFormatError, match=r'f\.txt:2: tag_column=0 is not a column after the token'):
        _tweets(tmp_path, 'IMGID:1\nEU\tNNP\tB-ORG\n', tag_column=0)


def test_token_line_without_tab(tmp_path):
    with pytest.raises(DataFormatError, match=r'f\.txt:3: expected "token<TAB>tag", got \'rejects O\''):
        _tweets(tmp_path, 'IMGID:1\nEU\tB-ORG\nrejects O\n')


def test_unknown_tag_names_file_line_and_types(tmp_path):
    with pytest.raises(DataFormatError, match=r"f\.txt:3: tag 'B-XYZ' is not one of the configured entity types"):
        _tweets(tmp_path, 'IMGID:1\nEU\tB-ORG\nrejects\tB-XYZ\n')


def test_orphan_i_tags_are_repaired_and_counted(tmp_path, mmlog):
    ds = _tweets(tmp_path, 'IMGID:1\nEU\tI-ORG\nrejects\tO\nGerman\tI-MISC\n')
    assert ds.get_data_info(0)['gt_tags'] == ['B-ORG', 'O', 'B-MISC']
    assert any(line.endswith("f.txt: repaired 2 orphan I- tags to B- (orphan_i='repair')") for line in mmlog.lines)


# ------------------------------------------------------------------------------------------ image paths

@pytest.mark.parametrize('img_id', ['../mnre/img_org/val/x', '/etc/passwd', 'sub/../../x'])
def test_twitter_imgid_outside_the_image_folder_is_an_error(tmp_path, img_id):
    (tmp_path / 'imgs').mkdir()
    with pytest.raises(DataFormatError) as e:
        _tweets(tmp_path, GOOD_TWEET + f'\nIMGID:{img_id}\nhi\tO\n', data_prefix=dict(img_path='imgs'),
                img_suffix='')
    assert str(e.value).startswith(f'{tmp_path / "f.txt"}:7: IMGID:{img_id} points outside the image folder')
    assert 'allow_outside_images=True' in str(e.value)


def test_twitter_link_out_of_the_folder_is_an_error_unless_allowed(tmp_path, tweet_image):
    (tmp_path / 'imgs').mkdir()
    os.symlink(tweet_image, tmp_path / 'imgs' / '1.jpg')
    with pytest.raises(DataFormatError, match=r'f\.txt:1: IMGID:1 points outside the image folder'):
        _tweets(tmp_path, GOOD_TWEET, data_prefix=dict(img_path='imgs'))
    ds = _tweets(tmp_path, GOOD_TWEET, data_prefix=dict(img_path='imgs'), allow_outside_images=True)
    assert ds.get_data_info(0)['has_image'] is True


def test_twitter_imgid_inside_a_subfolder_is_fine(tmp_path):
    (tmp_path / 'imgs' / 'a').mkdir(parents=True)
    ds = _tweets(tmp_path, 'IMGID:a/../a/1\nhi\tO\n', data_prefix=dict(img_path='imgs'))
    assert ds.get_data_info(0)['img_path'] == osp.join(str(tmp_path), 'imgs', 'a/../a/1.jpg')


@pytest.mark.parametrize('img_id', ['../val/x.jpg', '/etc/passwd'])
def test_mnre_img_id_outside_the_image_folder_is_an_error(tmp_mnre, img_id):
    (tmp_mnre / 'img').mkdir()
    with pytest.raises(DataFormatError) as e:
        _mnre(tmp_mnre, GOOD_MNRE + '\n\n' + GOOD_MNRE.replace('x.jpg', img_id), data_prefix=dict(img_path='img'))
    assert str(e.value).startswith(f"{tmp_mnre / 'mnre' / 'bad.txt'}:3: img_id {img_id!r} points outside")
    ds = _mnre(tmp_mnre, GOOD_MNRE.replace('x.jpg', img_id), data_prefix=dict(img_path='img'),
               allow_outside_images=True)
    assert ds.get_data_info(0)['has_image'] is False  # /etc/passwd is no image; ../val/x.jpg is missing


# ------------------------------------------------------------------------------------------ MNRE lines

def test_mnre_python_payload_is_never_executed(tmp_mnre, tmp_path):
    marker = tmp_path / 'pwned'
    payloads = [f"__import__('os').system('touch {marker}')",
                f"{{'token': [open('{marker}', 'w').name], 'h': 0}}",
                f"{{'token': ['a'], 'relation': __import__('os').system('touch {marker}')}}"]
    for payload in payloads:
        with pytest.raises(DataFormatError, match=r'bad\.txt:2: not a Python dict literal'):
            _mnre(tmp_mnre, GOOD_MNRE + '\n' + payload + '\n')
    assert not marker.exists()


@pytest.mark.parametrize('line, message', [
    (GOOD_MNRE.replace('/per/misc/present_in', '/per/misc/hobby'), "relation '/per/misc/hobby' is not in rel2id.json"),
    (GOOD_MNRE[:60], 'not a Python dict literal'),
    ('{[1]: 2}', 'not a Python dict literal (TypeError'),
    ("['token', 'h']", 'expected a dict, got list'),
    (GOOD_MNRE.replace(", 'relation': '/per/misc/present_in'", ''), "missing key(s) ['relation']"),
    (GOOD_MNRE.replace("'pos': [3, 4]", "'pos': [3, 'x']"), "'t' pos must be two integers [start, end]"),
])
def test_mnre_bad_line_names_file_and_line(tmp_mnre, line, message):
    with pytest.raises(DataFormatError) as e:
        _mnre(tmp_mnre, GOOD_MNRE + '\n' + line + '\n')
    assert str(e.value).startswith(f"{tmp_mnre / 'mnre' / 'bad.txt'}:2: ")
    assert message in str(e.value)


# ------------------------------------------------------------------------------------------ sub-words

def test_words_with_no_subword_get_unk_and_are_counted_apart_from_truncation(tmp_path, mmlog):
    text = 'IMGID:1\nI\tO\nlove\tO\n\u200b\tO\nParis\tB-LOC\n\ufe0f\tO\n\nIMGID:2\nok\tO\n'
    ds = _tweets(tmp_path, text, pipeline=TOKENIZE)
    out = '\n'.join(mmlog.lines)
    assert 'f.txt: 2 words in 1 sentences map to no sub-word; they get the tokenizer\'s unknown token' in out
    assert 'exceed the tokenizer max_length' not in out
    item = ds[0]
    assert min(item['word_ids']) > 0  # every word has a position, so every word gets a prediction
    from pmu.utils import build_tokenizer
    tok = build_tokenizer(MINILM)
    assert tok.convert_ids_to_tokens([item['input_ids'][item['word_ids'][i]] for i in (2, 4)]) == ['[UNK]'] * 2


def test_words_with_no_subword_predicted_o_when_unk_is_off(tmp_path, mmlog):
    text = 'IMGID:1\nI\tO\n\u200b\tO\nParis\tB-LOC\n'
    pipeline = [dict(TOKENIZE[0], unk_empty_words=False)]
    ds = _tweets(tmp_path, text, pipeline=pipeline)
    assert ds[0]['word_ids'] == [1, -1, 2]
    out = '\n'.join(mmlog.lines)
    assert '1 words in 1 sentences map to no sub-word; they are predicted O and still scored' in out
    assert 'exceed the tokenizer max_length' not in out


def test_real_truncation_is_still_counted(tmp_path, mmlog):
    words = ''.join(f'w{i}\tO\n' for i in range(200))
    _tweets(tmp_path, 'IMGID:1\n' + words + 'Paris\tB-LOC\n\nIMGID:2\nok\tO\n', pipeline=TOKENIZE)
    assert any(line.endswith('f.txt: 1 sentences exceed the tokenizer max_length; 1 of 1 gold entities lose '
                             'words to truncation (those words are predicted O and still scored)')
               for line in mmlog.lines)


def test_real_twitter2017_train_no_sentence_exceeds_max_length(mmlog):
    root = require_real_data('twitter2017/train.txt')
    # before: "76 sentences exceed the tokenizer max_length" (they held words with no sub-word)
    TwitterNERDataset(ann_file='twitter2017/train.txt', data_root=root, entity_types=TYPES, pipeline=TOKENIZE)
    out = '\n'.join(mmlog.lines)
    assert 'exceed the tokenizer max_length' not in out
    assert 'twitter2017/train.txt: 116 words in 76 sentences map to no sub-word' in out


def test_empty_and_whitespace_only_files(tmp_path, tmp_mnre):
    with pytest.raises(DataFormatError, match=r'f\.txt: no sentences \(empty file\?\)'):
        _tweets(tmp_path, '\n \n')
    with pytest.raises(DataFormatError, match=r'bad\.txt: no instances \(empty file\?\)'):
        _mnre(tmp_mnre, '\n')
    write(tmp_path / 'g.txt', 'IMGID:7\n\nIMGID:8\nhi\tO\n')
    with pytest.raises(DataFormatError, match=r'g\.txt:1: sentence IMGID:7 has no tokens'):
        TwitterNERDataset(ann_file=str(tmp_path / 'g.txt'), data_root=str(tmp_path), entity_types=TYPES)


def test_subword_counts_match_what_the_transform_feeds_the_model():
    from pmu.datasets.transforms import TokenizeWords
    words = ['I', 'love', '\u200b', 'Paris', '\ufe0f']
    on, off = TokenizeWords(MINILM), TokenizeWords(MINILM, unk_empty_words=False)
    assert on.subword_counts(words) == [1, 1, 1, 1, 1] and off.subword_counts(words) == [1, 1, 0, 1, 0]
    assert sum(on.subword_counts(words)) + 2 == len(on(dict(words=words))['input_ids'])
    assert sum(off.subword_counts(words)) + 2 == len(off(dict(words=words))['input_ids'])
