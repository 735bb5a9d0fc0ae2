"""Input that was accepted silently or crashed without saying where (issue "Runs you can trust"): each is now
an error naming file, line or key, or a policy that counts and logs what it did.

Real parts: the datasets' readers, the image loader, the config check, the record schema, the preparation
with the ONNX detector and spaCy on COCO-mini images (where the real data is there).
"""
import ast
import json
import os
import os.path as osp
import shutil
import threading

import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

from pmu.apis.config import ConfigKeyError, ConfigValueError, load_complete_config
from pmu.datasets import CaptionFileError, DataFormatError, JsonlCaptionPairs, MNREDataset, TwitterNERDataset
from pmu.structures import PairRecord, PairRecordError
from pmu.utils.image import TRANSPARENT_BACKGROUND, load_image
from tests.conftest import MINILM, REPO, require_real_data, write_jsonl
from tests.robustness.conftest import TEXT_CFG

TYPES = ('PER', 'LOC', 'ORG', 'MISC')
GOOD_TWEET = 'IMGID:1\nEU\tB-ORG\nrejects\tO\n'
GOOD_MNRE = ("{'token': ['Bill', 'Cosby', 'visits', 'Hollywood'], "
             "'h': {'name': 'Bill Cosby', 'pos': [0, 2]}, 't': {'name': 'Hollywood', 'pos': [3, 4]}, "
             "'img_id': 'x.jpg', 'relation': '/per/misc/present_in'}")
ONNX_CONFIG = osp.join(REPO, 'configs', 'prepare', 'prepare_onnx-centernet_spacy_coco-mini.py')


def _tweets(tmp_path, text, **kwargs):
    path = tmp_path / 'f.txt'
    path.write_bytes(text.encode('utf-8'))
    return TwitterNERDataset(ann_file=str(path), data_root=str(tmp_path), entity_types=TYPES, **kwargs)


def _mnre(root, text, **kwargs):
    (root / 'mnre' / 'bad.txt').write_bytes(text.encode('utf-8'))
    return MNREDataset(ann_file='mnre/bad.txt', data_root=str(root), **kwargs)


# ------------------------------------------------------------------------------------------ MNRE lines (D23-D26)

@pytest.mark.parametrize('line, message', [
    (GOOD_MNRE.replace("'pos': [3, 4]", "'pos': [2, 3]"),
     "'t' name 'Hollywood' is not the words of its pos [2, 3]: ['visits']"),
    (GOOD_MNRE.replace("'pos': [0, 2]", "'pos': [0, 1]"), "'h' name 'Bill Cosby' is not the words of its pos [0, 1]"),
])
def test_mnre_positions_that_contradict_the_entity_name_are_an_error(tmp_mnre, line, message):
    with pytest.raises(DataFormatError) as e:
        _mnre(tmp_mnre, GOOD_MNRE + '\n' + line + '\n')
    assert str(e.value).startswith(f"{tmp_mnre / 'mnre' / 'bad.txt'}:2: ") and message in str(e.value)


def test_mnre_names_match_up_to_whitespace_with_or_without_spaces(tmp_mnre):
    spaced = GOOD_MNRE.replace("'name': 'Bill Cosby'", "'name': ' Bill  Cosby '")
    glued = GOOD_MNRE.replace("'name': 'Bill Cosby'", "'name': 'BillCosby'")  # tokens of a hashtag, say
    assert len(_mnre(tmp_mnre, '\n'.join([GOOD_MNRE, spaced, glued]))) == 3


def test_real_mnre_names_all_agree_with_their_positions():
    root = require_real_data('mnre/mnre_train.txt', 'mnre/mnre_val.txt')
    n = 0
    for split in ('train', 'val'):
        with open(osp.join(root, 'mnre', f'mnre_{split}.txt'), encoding='utf-8') as f:
            for line in f:
                r = ast.literal_eval(line)
                for key in ('h', 't'):
                    start, end = r[key]['pos']
                    assert ''.join(r[key]['name'].split()) == ''.join(r['token'][start:end])
                n += 1
    assert n == 13871  # so the check raises no false alarm on the real data


@pytest.mark.parametrize('line, key', [
    (GOOD_MNRE.replace("'relation': '/per/misc/present_in'", "'relation': 'None', 'relation': '/per/misc/present_in'"),
     'relation'),
    (GOOD_MNRE.replace("'pos': [3, 4]}", "'pos': [3, 4], 'pos': [0, 1]}"), 'pos'),
])
def test_mnre_key_given_twice_is_an_error(tmp_mnre, line, key):
    with pytest.raises(DataFormatError, match=rf"bad\.txt:2: key '{key}' is given twice in one dict"):
        _mnre(tmp_mnre, GOOD_MNRE + '\n' + line + '\n')


def test_mnre_repeated_instances_are_counted_and_a_conflicting_one_is_an_error(tmp_mnre, mmlog):
    ds = _mnre(tmp_mnre, '\n'.join([GOOD_MNRE, GOOD_MNRE.replace('x.jpg', 'y.jpg'), GOOD_MNRE, GOOD_MNRE]))
    assert len(ds) == 4  # kept
    assert any(m.endswith('bad.txt: 2 instances repeat an earlier one (same words, head, tail, image and relation; '
                          'kept, each copy is trained on and scored): line 3 = line 1; line 4 = line 1')
               for m in mmlog.lines)
    other = GOOD_MNRE.replace('/per/misc/present_in', 'None')
    with pytest.raises(DataFormatError, match=r"bad\.txt:3: the instance of line 1 .* again, with relation 'None' "
                                              r"instead of '/per/misc/present_in'"):
        _mnre(tmp_mnre, '\n'.join([GOOD_MNRE, GOOD_MNRE.replace('x.jpg', 'y.jpg'), other]))


def test_real_mnre_has_no_repeated_instances(mmlog):
    root = require_real_data('mnre/mnre_val.txt', 'mnre/rel2id.json')
    MNREDataset(ann_file='mnre/mnre_val.txt', data_root=root)
    assert not any('repeat an earlier one' in m for m in mmlog.lines)


# ------------------------------------------------------------------------------------------ Twitter posts (D27)

def test_twitter_repeated_posts_and_imgids_are_counted_with_their_lines(tmp_path, mmlog):
    text = GOOD_TWEET + '\n' + GOOD_TWEET + '\nIMGID:1\nother\tO\n\nIMGID:2\nok\tO\n'
    ds = _tweets(tmp_path, text)
    assert len(ds) == 4  # kept
    out = '\n'.join(mmlog.lines)
    assert ('f.txt: 1 repeated posts (same IMGID and words; kept, each copy is trained on and scored): '
            'line 1 again at line(s) 5') in out
    assert 'f.txt: 1 posts reuse the IMGID of another post with other words (kept; they share the image and its ' \
           'caption): IMGID:1 at lines 1, 9' in out


def test_real_twitter_files_have_no_repeated_posts(mmlog):
    root = require_real_data('twitter2017/train.txt')
    TwitterNERDataset(ann_file='twitter2017/train.txt', data_root=root, entity_types=TYPES)
    assert not any('repeated posts' in m or 'reuse the IMGID' in m for m in mmlog.lines)


# ------------------------------------------------------------------------------------------ NUL bytes (D28)

def test_nul_byte_in_an_imgid_or_img_id_names_file_and_line(tmp_path, tmp_mnre):
    (tmp_path / 'imgs').mkdir()
    with pytest.raises(DataFormatError, match=r"f\.txt:5: IMGID:'a\\x00b' holds a NUL byte"):
        _tweets(tmp_path, GOOD_TWEET + '\nIMGID:a\x00b\nhi\tO\n', data_prefix=dict(img_path='imgs'))
    with pytest.raises(DataFormatError, match=r"bad\.txt:2: img_id 'x\\x00\.jpg' holds a NUL byte"):
        _mnre(tmp_mnre, GOOD_MNRE + '\n' + GOOD_MNRE.replace('x.jpg', 'x\\x00.jpg'))


# ------------------------------------------------------------------------------------------ images (I11, I12)

def test_a_fifo_named_like_an_image_is_refused_without_opening_it(tmp_path):
    fifo = tmp_path / 'x.jpg'
    os.mkfifo(fifo)
    result = []
    thread = threading.Thread(target=lambda: result.append(load_image(str(fifo))), daemon=True)
    thread.start()
    thread.join(10)
    if thread.is_alive():  # unblock the reader so the test process can end
        with open(fifo, 'wb'):
            pass
        pytest.fail('load_image hung on a FIFO')
    assert (result[0].status, result[0].image) == ('unreadable', None)
    assert result[0].reason == 'not a regular file (a FIFO); not opened'


def test_a_fifo_in_a_dataset_is_counted_unreadable(tmp_path, mmlog):
    (tmp_path / 'imgs').mkdir()
    os.mkfifo(tmp_path / 'imgs' / '1.jpg')
    ds = _tweets(tmp_path, GOOD_TWEET, data_prefix=dict(img_path='imgs'))
    assert ds.get_data_info(0)['has_image'] is False
    assert any('1.jpg is unreadable; the sample is kept and runs without an image (unreadable: not a regular file '
               '(a FIFO)' in m for m in mmlog.lines)


@pytest.mark.parametrize('mode', ['RGBA', 'LA', 'P', 'RGB'])
def test_transparent_pixels_come_out_as_the_background_colour(tmp_path, mode):
    path = tmp_path / f'{mode}.png'
    if mode == 'RGBA':
        Image.new('RGBA', (2, 1), (255, 0, 0, 0)).save(path)  # fully transparent red
    elif mode == 'LA':
        Image.new('LA', (2, 1), (0, 0)).save(path)  # fully transparent black
    elif mode == 'RGB':
        Image.new('RGB', (2, 1), (255, 0, 0)).save(path, transparency=(255, 0, 0))  # red is the transparent colour
    else:
        im = Image.new('P', (2, 1))
        im.putpalette([255, 0, 0] + [0, 0, 0] * 255)
        im.save(path, transparency=0)  # red, its index transparent
    result = load_image(str(path))
    assert result.ok and result.image.mode == 'RGB'
    assert result.image.getpixel((0, 0)) == TRANSPARENT_BACKGROUND == (255, 255, 255)


def test_half_transparent_and_opaque_pixels_are_composited(tmp_path):
    arr = np.array([[[255, 0, 0, 255], [255, 0, 0, 128]]], np.uint8)
    Image.fromarray(arr, 'RGBA').save(tmp_path / 'a.png')
    result = load_image(str(tmp_path / 'a.png'))
    assert result.image.getpixel((0, 0)) == (255, 0, 0)
    assert result.image.getpixel((1, 0)) == (255, 127, 127)
    assert load_image(str(tmp_path / 'a.png'), 'RGBA').image.getpixel((1, 0)) == (255, 0, 0, 128)  # alpha asked for


# ------------------------------------------------------------------------------------------ --cfg-options (T45)

@pytest.mark.parametrize('option, value, message', [
    ('train_cfg.max_epochs', [1, 2], "--cfg-options train_cfg.max_epochs=[1, 2]: expected a number, as the config's 4; "
                                     'got a list or tuple'),
    ('optim_wrapper.optimizer.lr', 'fast', "--cfg-options optim_wrapper.optimizer.lr='fast': expected a number, as the "
                                           "config's 5e-05; got a string"),
    ('optim_wrapper.optimizer.betas', (0.9, ),
     "--cfg-options optim_wrapper.optimizer.betas=(0.9,): expected 2 numbers, as the config's (0.9, 0.999); "
     "got (0.9,)"),
    ('randomness.seed', True, "--cfg-options randomness.seed=True: expected a number, as the config's 42; got true or "
                              'false'),
    ('optim_wrapper.clip_grad', 1.0, "--cfg-options optim_wrapper.clip_grad=1.0: expected a dict"),
])
def test_override_of_the_wrong_type_is_refused_naming_key_value_and_type(option, value, message):
    with pytest.raises(ConfigValueError) as info:
        load_complete_config(TEXT_CFG, {option: value})
    assert str(info.value).startswith(message)
    assert isinstance(info.value, ConfigKeyError)  # the tools report both alike


def test_overrides_of_the_right_type_still_merge():
    cfg = load_complete_config(TEXT_CFG, {
        'train_cfg.max_epochs': 2.0, 'optim_wrapper.optimizer.lr': 1, 'optim_wrapper.optimizer.betas': [0.8, 0.9],
        'randomness.seed': 0, 'load_from': 'x.pth', 'default_hooks.checkpoint': None,
        'train_dataloader.dataset.indices': 32, 'model.head.dropout': 0.3})
    assert cfg.optim_wrapper.optimizer.betas == [0.8, 0.9] and cfg.randomness.seed == 0


def test_the_override_parser_gives_what_the_check_sees():
    import argparse

    from mmengine.config import DictAction
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    options = parser.parse_args(['--cfg-options', 'optim_wrapper.optimizer.lr=fast']).cfg_options
    with pytest.raises(ConfigValueError, match='optim_wrapper.optimizer.lr'):
        load_complete_config(TEXT_CFG, options)


# ------------------------------------------------------------------------------------------ preparation (C11-C15)

def test_unknown_prepare_key_is_refused_with_the_closest_one(tmp_path):
    from pmu.pseudo_labels.run import PreparationRun
    cfg = Config.fromfile(ONNX_CONFIG)
    cfg.merge_from_dict({'prepare.batch_sise': 4})  # as tools/prepare_pretrain.py --cfg-options does
    with pytest.raises(ConfigKeyError, match=r"prepare\.batch_sise is not a preparation option; did you mean "
                                             r"prepare\.batch_size\?"):
        PreparationRun(cfg, str(tmp_path / 'work'))


@pytest.mark.parametrize('image', ['/etc/passwd', '../x.jpg', 'a\x00.jpg'])
def test_caption_jsonl_image_outside_its_folder_is_an_error(tmp_path, image):
    (tmp_path / 'c').mkdir()
    path = write_jsonl(tmp_path / 'c' / 'c.jsonl', [dict(image='a.jpg', caption='A dog.'),
                                                    dict(image=image, caption='Secrets.')])
    with pytest.raises(CaptionFileError, match=r'c\.jsonl:2: image .* (points outside the image folder|holds a NUL)'):
        JsonlCaptionPairs(ann_file=path, data_root=str(tmp_path))
    if '\x00' not in image:
        ds = JsonlCaptionPairs(ann_file=path, data_root=str(tmp_path), allow_outside_images=True)
        assert len(ds) == 2


def test_caption_jsonl_key_in_other_letter_case_is_a_bad_entry(tmp_path):
    path = write_jsonl(tmp_path / 'c.jsonl', [dict(image='a.jpg', caption='A dog.', source='web'),  # other keys: fine
                                              dict(image='a.jpg', caption='A dog.', Match=False)])
    ds = JsonlCaptionPairs(ann_file=path, data_root=str(tmp_path))
    assert len(ds) == 1 and ds.skipped == {'misspelt_key': 1}
    assert "c.jsonl:2: misspelt_key: 'Match' is not 'match'" in ds.skipped_examples[0]


LINE = dict(index=0, id='coco:1', image='a.jpg', width=640, height=383, caption='A dog.', match=True,
            entities=[], objects=[dict(box=[10.0, 20.0, 640.0, 383.0], label='dog', score=0.9)], boxes_dropped=0)


def test_cache_record_with_an_unknown_key_is_an_error(tmp_path):
    d = dict(LINE)
    del d['match']
    d['Match'] = False
    (tmp_path / 'pairs.jsonl').write_text(json.dumps(LINE) + '\n' + json.dumps(d) + '\n')
    from pmu.datasets import PretrainPairsDataset
    with pytest.raises(PairRecordError, match=r"pairs\.jsonl:2: unknown key 'Match'; did you mean 'match'\?"):
        PretrainPairsDataset(str(tmp_path))


@pytest.mark.parametrize('box', [[10.0, 20.0, 6400.0, 383.0], [-50.0, 0.0, 10.0, 10.0], [30.0, 0.0, 10.0, 10.0]])
def test_cache_box_outside_its_image_is_an_error(box):
    d = dict(LINE, objects=[dict(box=box, label='dog', score=0.9)])
    with pytest.raises(PairRecordError, match=r'p:3: objects\[0\]: box .* is not inside the 640x383 image'):
        PairRecord.from_dict(d, 'p:3')
    PairRecord.from_dict(dict(LINE, objects=[dict(box=[-0.5, 0.0, 640.4, 383.0], label='dog', score=0.9)]))  # rounding


def test_latin_share_of_captions():
    from pmu.pseudo_labels.run import latin_share
    assert latin_share('A man in a café.') == 1.0 and latin_share('1 2 3 !') == 1.0
    assert latin_share('رجل يقف على الشاطئ') == 0.0
    assert latin_share('Un homme à la plage') == 1.0  # another language in Latin letters passes (documented)


@pytest.mark.parametrize('policy', ['skip', 'keep'])
def test_non_latin_captions_are_skipped_or_kept_and_counted(tmp_path, policy):
    root = require_real_data('coco-mini/val2017')
    folder = osp.join(root, 'coco-mini', 'val2017')
    image = sorted(os.listdir(folder))[0]
    shutil.copy(osp.join(folder, image), tmp_path / image)
    corpus = write_jsonl(tmp_path / 'c.jsonl', [dict(image=image, caption='A man riding a horse.', id='en'),
                                                 dict(image=image, caption='رجل يركب حصانا على الشاطئ', id='ar')])
    cfg = Config.fromfile(ONNX_CONFIG)
    cfg.dataset = dict(type='JsonlCaptionPairs', ann_file=corpus)
    cfg.merge_from_dict({'prepare.non_latin_captions': policy})
    from pmu.pseudo_labels.prepare import prepare
    summary = prepare(cfg, str(tmp_path / 'work'))
    log = open(tmp_path / 'work' / 'prepare.rank0.log', encoding='utf-8').read()
    vocab = open(tmp_path / 'work' / 'entity_vocab.txt', encoding='utf-8').read()
    if policy == 'skip':
        assert summary['written'] == 1 and summary['skipped_pairs'] == {'caption_not_latin': 1}
        assert 'skipped pair ar' in log and 'caption_not_latin: 0% of its letters are Latin' in log
        assert 'على' not in vocab
    else:
        assert summary['written'] == 2 and summary['shards'][0]['this_run']['kept_caption_not_latin'] == 1
        assert "kept pair ar with a non-Latin caption (prepare.non_latin_captions='keep')" in log
    with pytest.raises(ValueError, match="prepare.non_latin_captions must be 'skip' or 'keep'"):
        cfg.merge_from_dict({'prepare.non_latin_captions': 'drop'})
        prepare(cfg, str(tmp_path / 'work2'))


# ------------------------------------------------------------------------------------------ MNRE long posts (D29)

def test_a_long_instance_whose_entities_start_at_its_first_word_is_counted(tmp_mnre, mmlog):
    words = [f'word{i}' for i in range(60)]

    def line(h, t):
        return repr(dict(token=words, h=dict(name=words[h], pos=[h, h + 1]), t=dict(name=words[t], pos=[t, t + 1]),
                         img_id='x.jpg', relation='None'))
    markers = ('<e1>', '</e1>', '<e2>', '</e2>')
    pipeline = [dict(type='InsertEntityMarkers', markers=markers, tokenizer=MINILM, max_length=24),
                dict(type='TokenizeWords', tokenizer=MINILM, max_length=24, extra_special_tokens=markers)]
    # before: "1 instances exceed": the first (entities from word 0 on, over the budget) crops no word, the
    # truncation cuts its end, and it was not counted
    ds = _mnre(tmp_mnre, '\n'.join([line(0, 50), line(2, 50)]), pipeline=pipeline)
    assert ds[0]['num_cropped_words'] == 0 and ds[0]['exceeds_max_length']
    assert any('bad.txt: 2 instances exceed the tokenizer max_length' in m and 'in 2 the entities alone do not fit'
               in m for m in mmlog.lines)
