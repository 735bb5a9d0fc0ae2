import json
import os.path as osp

import pytest

from pmu.datasets import DataFormatError, MNREDataset
from tests.conftest import MINILM, REPO

MARKERS = ('<s>', '</s>', '<o>', '</o>')
PIPELINE = [
    dict(type='LoadImage', size=(64, 64)),
    dict(type='InsertEntityMarkers', markers=MARKERS, tokenizer=MINILM, max_length=128),
    dict(type='TokenizeWords', tokenizer=MINILM, max_length=128, extra_special_tokens=MARKERS),
    dict(type='PackMultimodalInputs',
         meta_keys=('sample_idx', 'img_id', 'has_image', 'tokens', 'words', 'word_ids',
                    'head_marker', 'tail_marker')),
]
GOOD = ("{'token': ['Bill', 'Cosby', 'visits', 'Hollywood'], "
        "'h': {'name': 'Bill Cosby', 'pos': [0, 2]}, 't': {'name': 'Hollywood', 'pos': [3, 4]}, "
        "'img_id': 'x.jpg', 'relation': '/per/misc/present_in'}")


def _dataset(root, text, **kwargs):
    (root / 'mnre' / 'bad.txt').write_text(text, encoding='utf-8')
    return MNREDataset(ann_file='mnre/bad.txt', data_root=str(root), **kwargs)


def test_real_splits_load_every_instance_and_count_images(mnre_root, mmlog):
    rel2id = json.load(open(osp.join(mnre_root, 'mnre', 'rel2id.json')))
    for split, n, n_img in (('train', 12247, 5), ('val', 1624, 7)):
        ds = MNREDataset(ann_file=f'mnre/mnre_{split}.txt', data_root=mnre_root,
                         data_prefix=dict(img_path=f'mnre/img_org/{split}'))
        assert len(ds) == n
        assert list(ds.metainfo['relations']) == sorted(rel2id, key=rel2id.get)
        assert sum(ds.get_data_info(i)['has_image'] for i in range(len(ds))) == n_img
        assert any(f'{n_img}/{n} samples have an image; {n - n_img} missing' in m
                   for m in mmlog.lines)
    info = ds.get_data_info(0)
    assert info['tokens'][:3] == ['RT', '@AFP', ':'] and info['words'] == info['tokens']
    assert info['img_path'].endswith(osp.join('mnre', 'img_org', 'val', info['img_id']))
    assert 0 <= info['head'][0] < info['head'][1] <= len(info['tokens'])


def test_the_config_relation_order_is_rel2id(mnre_root):
    from pmu.apis.config import load_complete_config
    cfg = load_complete_config(osp.join(REPO, 'configs', 'mre', 'textonly_minilm_mnre.py'))
    rel2id = json.load(open(osp.join(mnre_root, 'mnre', 'rel2id.json')))
    assert cfg.model.relations == sorted(rel2id, key=rel2id.get)


def test_pipeline_marks_the_entities_of_a_real_instance_with_its_image(mnre_root):
    ds = MNREDataset(ann_file='mnre/mnre_train.txt', data_root=mnre_root, indices=3,
                     data_prefix=dict(img_path='mnre/img_org/train'), pipeline=PIPELINE)
    out = ds[2]  # Bill Cosby (head) / Hollywood Walk of Fame (tail), image present
    s = out['data_samples']
    assert s.has_image and out['inputs']['img'].shape == (3, 64, 64)
    assert s.words[s.head_marker:s.head_marker + 4] == ['<s>', 'Bill', 'Cosby', '</s>']
    assert s.words[s.tail_marker] == '<o>' and s.words[s.tail_marker + 5] == '</o>'
    ids = out['inputs']['input_ids']
    from pmu.utils import build_tokenizer
    tok = build_tokenizer(MINILM, MARKERS)
    assert tok.convert_ids_to_tokens([int(ids[s.word_ids[s.head_marker]]),
                                      int(ids[s.word_ids[s.tail_marker]])]) == ['<s>', '<o>']
    assert s.gt_relation == '/per/misc/present_in' and s.tokens[3:5] == ['Bill', 'Cosby']


# The four bad inputs of the issue, plus a few neighbours: each names file and line.
@pytest.mark.parametrize('text,line,message', [
    (GOOD + '\n' + "{'token': ['a', 'b'], 'h': {'pos': [0, 1]}\n", 2, 'not a Python dict literal'),
    (GOOD + '\n' + GOOD.replace('[3, 4]', '[3, 5]'), 2, "'t' span [3, 5] is not"),
    (GOOD.replace("'pos': [0, 2]", "'pos': [2, 2]"), 1, "'h' span [2, 2] is not"),
    (GOOD.replace("'pos': [0, 2]", "'pos': [-1, 2]"), 1, "'h' span [-1, 2] is not"),
    ('\n' + GOOD.replace('/per/misc/present_in', '/per/misc/hobby'), 2,
     "relation '/per/misc/hobby' is not in rel2id.json"),
    (GOOD.replace("['Bill', 'Cosby', 'visits', 'Hollywood']", '[]'), 1,
     "'token' must be a non-empty list"),
    (GOOD.replace(", 'img_id': 'x.jpg'", ''), 1, "missing key(s) ['img_id']"),
    ("__import__('os').system('echo pwned')", 1, 'not a Python dict literal'),
])
def test_bad_lines_name_file_and_line(tmp_mnre, text, line, message):
    with pytest.raises(DataFormatError) as e:
        _dataset(tmp_mnre, text)
    assert f'bad.txt:{line}: ' in str(e.value)
    assert message in str(e.value)


@pytest.mark.parametrize('text', ['', '\n\n  \n'])
def test_empty_file(tmp_mnre, text):
    with pytest.raises(DataFormatError, match=r'bad\.txt: no instances \(empty file\?\)'):
        _dataset(tmp_mnre, text)


def test_bad_rel2id_and_missing_file(tmp_mnre):
    (tmp_mnre / 'mnre' / 'rel2id.json').write_text('{"None": 0, "/per/per/peer": 2}')
    with pytest.raises(DataFormatError, match='rel2id.json: relation ids must be the integers'):
        _dataset(tmp_mnre, GOOD)
    with pytest.raises(FileNotFoundError, match='nope.txt does not exist'):
        MNREDataset(ann_file='mnre/nope.txt', data_root=str(tmp_mnre))


def test_missing_and_corrupt_images_are_kept_and_counted(tmp_mnre, mmlog):
    (tmp_mnre / 'img').mkdir()
    (tmp_mnre / 'img' / 'x.jpg').write_bytes(b'not a jpeg')
    ds = _dataset(tmp_mnre, GOOD + '\n' + GOOD.replace('x.jpg', 'y.jpg'),
                  data_prefix=dict(img_path=str(tmp_mnre / 'img')))
    assert len(ds) == 2 and not any(ds.get_data_info(i)['has_image'] for i in range(2))
    assert any('0/2 samples have an image; 1 missing, 1 unreadable' in m for m in mmlog.lines)
