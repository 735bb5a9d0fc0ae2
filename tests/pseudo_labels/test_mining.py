"""Vocabulary mining: relation phrases from a parse, counted vocabulary files, the shipped vocabularies,
and tools/misc/mine_vocabulary.py end to end."""
import json
import os.path as osp
import subprocess
import sys

import pytest

from pmu.pseudo_labels.mining import load_relation_pipeline, mine_vocabularies
from pmu.pseudo_labels.relation_phrases import RelationPhraseCounter, relation_phrases
from pmu.pseudo_labels.vocabulary import (
    PACKAGED_RELATIONS,
    RESOURCES,
    build_entity_vocabulary,
    build_relation_vocabulary,
    merge_relation_vocabulary,
    read_counted_vocabulary,
    read_entity_vocabulary,
    resolve_vocabulary_file,
    write_counted_vocabulary,
)
from pmu.registry import ENTITY_FINDERS
from .conftest import REPO, tool_env, write_jsonl

SHIPPED = ('flickr8k-train', 'coco-mini')


@pytest.fixture(scope='module')
def nlp():
    return load_relation_pipeline()


def _shown(nlp, captions):
    counter = RelationPhraseCounter()
    for doc in nlp.pipe(captions):
        counter.add(relation_phrases(doc))
    return dict(counter.ranked())


def test_verbs_with_particles_and_prepositions(nlp):
    (doc, ) = nlp.pipe(['A man is riding on a horse next to a boy sitting in front of a fence .'])
    surfaces = {surface for _, surface, _ in relation_phrases(doc)}
    assert {'riding', 'riding on', 'sitting', 'sitting in front of'} <= surfaces
    (doc, ) = nlp.pipe(['A little girl climbing up the stairs .'])
    assert ('climb up', 'climbing up', True) in relation_phrases(doc)
    (doc, ) = nlp.pipe(['A dog sitting next to a cat .'])
    assert 'sitting next to' in {surface for _, surface, _ in relation_phrases(doc)}


def test_phrases_count_by_lemma_once_per_caption_shown_as_the_participle(nlp):
    shown = _shown(nlp, ['A man rides on a horse .', 'A man riding on a horse and riding on a cart .',
                         'A boy sits on a bench .', 'Two girls sitting on a chair .', 'A girl sitting on it .'])
    assert shown['riding on'] == 2 and shown['sitting on'] == 3 and 'rides on' not in shown
    assert 'sits on' not in shown


def test_adjectival_participles_and_bare_control_verbs_are_left_out(nlp):
    shown = _shown(nlp, ['A child holds a stuffed animal in a wooded area .', 'A dog trying to catch a ball .'])
    assert 'stuffed' not in shown and 'wooded' not in shown and 'trying' not in shown
    assert 'holding' in shown or 'holds' in shown


def test_merge_keeps_known_names_first_and_cuts_in_all():
    mined = [('running', 9), ('sitting on', 7), ('jumping', 5), ('eating', 1)]
    merged = merge_relation_vocabulary(['on', 'sitting on', 'on'], mined, max_size=4)
    assert merged == [('on', 0), ('sitting on', 7), ('running', 9), ('jumping', 5)]
    assert len(merge_relation_vocabulary(['on'], mined, max_size=-1)) == 5


def test_counted_files_round_trip_and_name_bad_lines(tmp_path):
    path = str(tmp_path / 'v.txt')
    write_counted_vocabulary(path, [('riding on', 3), ('dog', 0)], header=['a header'])
    assert read_counted_vocabulary(path) == [('riding on', 3), ('dog', 0)]
    assert build_relation_vocabulary(path) == ['riding on', 'dog']
    (tmp_path / 'v.txt').write_text('# x\nriding on\t3\nplain\nriding on\t4\n')
    with pytest.raises(ValueError, match=r'v.txt:4: duplicate entry'):
        read_counted_vocabulary(path)
    (tmp_path / 'v.txt').write_text('dog\tmany\n')
    with pytest.raises(ValueError, match=r'v.txt:1: the count of .dog. must be'):
        read_counted_vocabulary(path)
    assert read_counted_vocabulary(PACKAGED_RELATIONS)[0] == ('parent of', None)
    with pytest.raises(FileNotFoundError, match='nowhere.txt'):
        resolve_vocabulary_file('nowhere.txt')


@pytest.mark.parametrize('name', SHIPPED)
def test_shipped_vocabularies(name):
    """The mined files: pmu's relation names first, then mined phrases by count; 1000 entities; no captions."""
    relations = read_counted_vocabulary(resolve_vocabulary_file(f'{name}_relation_vocab.txt'))
    entities = read_entity_vocabulary(f'{name}_entity_vocab.txt')
    known = build_relation_vocabulary()
    assert [r for r, _ in relations[:len(known)]] == known
    mined = [c for _, c in relations[len(known):]]
    assert mined == sorted(mined, reverse=True) and min(mined) >= 1
    assert len(entities) == 1000 and [c for _, c in entities] == sorted((c for _, c in entities), reverse=True)
    if name == 'flickr8k-train':
        assert len(relations) == 1000 and min(mined) >= 2
        assert {'riding on', 'standing next to', 'sitting in', 'jumping over'} <= {r for r, _ in relations}
        assert entities[0] == ('dog', 6759)
    # phrases, not sentences: nothing of a caption's length travels with pmu
    assert max(len(e.split()) for e, _ in relations + entities) <= 6
    with open(osp.join(RESOURCES, f'{name}_relation_vocab.txt'), encoding='utf-8') as f:
        assert 'tools/misc/mine_vocabulary.py' in f.read(2000)


def test_mined_entities_are_the_preparation_s(nlp):
    """The miner ranks the configured finder's candidates the way the preparation does."""
    finder = ENTITY_FINDERS.build(dict(type='SpacyEntityFinder'))
    captions = ['Two dogs play in the park .', 'A dog runs on the beach .', 'A dog runs on the beach .',
                'A man in a red shirt rides a bike .', '   ']
    mined = mine_vocabularies(captions, finder, relation_min_count=1, progress=False)
    distinct = list(dict.fromkeys(c for c in captions if c.strip()))
    expected = build_entity_vocabulary([[c['norm'] for c in cands] for cands in finder(distinct)], -1)
    assert mined.captions == 3 and mined.entities == expected and ('dog', 2) in mined.entities
    assert 'ner' in mined.components
    relations_only = mine_vocabularies(captions, None, relation_min_count=1, progress=False)
    assert relations_only.entities == [] and 'ner' not in relations_only.components
    assert relations_only.relations == mined.relations


def test_tool_mines_a_corpus_of_a_preparation_config(tmp_path):
    rows = [dict(image='a.jpg', caption='A man riding on a horse .'),
            dict(image='a.jpg', caption='A man rides on a brown horse .'),
            dict(image='b.jpg', caption='A dog sitting next to a cat .')]
    corpus = write_jsonl(tmp_path / 'corpus.jsonl', rows)
    config = tmp_path / 'prepare.py'
    base = osp.join(REPO, 'configs', 'prepare', 'prepare_onnx-centernet_spacy_coco-mini.py')
    config.write_text(f"_base_ = '{base}'\ndataset = [dict(type='JsonlCaptionPairs', ann_file='{corpus}')]\n")
    out = tmp_path / 'vocab'
    result = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools', 'misc', 'mine_vocabulary.py'), str(config), '--name', 'tiny',
         '--out-dir', str(out), '--relation-min-count', '1', '--relation-size', '130'],
        env=tool_env(), capture_output=True, text=True, cwd=REPO, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout[result.stdout.index('{'):])
    assert figures['captions'] == 3 and figures['known_relations'] == 118
    assert figures['relation_vocab'] == 118 + figures['relations_added'] <= 130
    relations = dict(read_counted_vocabulary(str(out / 'tiny_relation_vocab.txt')))
    assert relations['riding on'] == 2 and relations['sitting next to'] == 1
    entities = dict(read_counted_vocabulary(str(out / 'tiny_entity_vocab.txt')))
    assert entities['horse'] == 2 and entities['dog'] == 1
    assert 'A man riding on a horse' not in (out / 'tiny_entity_vocab.txt').read_text()
