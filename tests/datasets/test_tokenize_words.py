from pmu.datasets.transforms import TokenizeWords
from tests.conftest import MINILM


def test_first_subword_alignment_with_the_real_tokenizer():
    t = TokenizeWords(MINILM, max_length=128)
    out = t(dict(words=['Kawhi', 'Leonard', 'wins', '#NBAAwards']))
    tok = t.tokenizer
    pieces = tok.convert_ids_to_tokens(out['input_ids'])
    assert pieces[0] == '[CLS]' and pieces[-1] == '[SEP]'
    # each word's first sub-word is where word_ids points, and words are in order
    firsts = [pieces[i] for i in out['word_ids']]
    assert firsts[0] == 'ka' and firsts[2] == 'wins' and firsts[3] == '#'
    assert out['word_ids'] == sorted(out['word_ids'])
    assert len(pieces) > 4 + 2  # 'kawhi' and '#nbaawards' split into several pieces


def test_truncation_marks_dropped_words():
    t = TokenizeWords(MINILM, max_length=6)
    out = t(dict(words=['one', 'two', 'three', 'four', 'five', 'six', 'seven']))
    assert out['word_ids'][:4] == [1, 2, 3, 4]
    assert out['word_ids'][4:] == [-1, -1, -1]
    assert len(out['input_ids']) == 6
