"""Relation phrases of captions: verbs with their particles and prepositions, from a spaCy parse.

A caption's verbs say how its things relate ("a dog *running through* the grass", "a man *sitting next
to* a woman"). Each verb gives its bare form (with particles: "climbing up") and one phrase per
preposition attached to it, including the multi-word ones ("next to", "out of", "in front of",
"on top of"). Phrases are counted by lemma, so "rides on", "rode on" and "riding on" are one phrase,
shown in the participle the captions use most ("riding on", "covered in"; another form only for a verb
never written as a participle), the form of pmu's own relation names ("sitting on", "parked on").

Left out, as they relate nothing: the copula and auxiliaries, participles used as adjectives ("a
*wooded* area", "a *stuffed* animal"), and the bare form of a verb that only introduces another
("*trying* to catch": "catching" is the relation).
"""
from collections import Counter
from typing import Dict, Iterable, List, Tuple

# Copula and auxiliaries that the tagger sometimes calls VERB: no relation in themselves.
_SKIP_LEMMAS = {'be', 'have', 'do', 'will', 'can', 'may'}
# Adverbs and particles that form a multi-word preposition with the one below them ("next to").
_COMPOUND_HEADS = {'next', 'close', 'out', 'away', 'up', 'down', 'off', 'along', 'ahead', 'together'}
# "in front of", "on top of", "at the edge of": preposition + one of these nouns + "of".
_PLACE_NOUNS = {'front', 'top', 'middle', 'side', 'edge', 'back', 'bottom', 'center', 'centre', 'end', 'corner',
                'base'}
_PREP_DEPS = ('prep', 'agent')

#: a phrase: (key, surface, participle); key = verb lemma + the other words, surface = the words as
#: written, participle = whether the verb is written as one (VBG, VBN)
Phrase = Tuple[str, str, bool]


def _prep_child(token):
    return next((c for c in token.children if c.dep_ in _PREP_DEPS and c.is_alpha), None)


def _preposition(child) -> List[str]:
    """The words of the preposition a verb's child starts, or [] when it starts none."""
    if child.dep_ in _PREP_DEPS and child.is_alpha:
        obj = next((c for c in child.children if c.dep_ == 'pobj'), None)
        of = _prep_child(obj) if obj is not None and obj.lower_ in _PLACE_NOUNS else None
        if of is not None and of.lower_ == 'of':
            the = ['the'] if any(c.dep_ == 'det' and c.lower_ == 'the' for c in obj.children) else []
            return [child.lower_, *the, obj.lower_, 'of']
        return [child.lower_]
    if child.dep_ in ('advmod', 'prt') and child.lower_ in _COMPOUND_HEADS:
        below = _prep_child(child)
        if below is not None:
            return [child.lower_, below.lower_]
    return []


def relation_phrases(doc) -> List[Phrase]:
    """The relation phrases of one parsed caption (a spaCy ``Doc`` with tagger, parser and lemmatizer)."""
    phrases = []
    for verb in doc:
        if (verb.pos_ != 'VERB' or not verb.is_alpha or verb.lemma_.lower() in _SKIP_LEMMAS
                or verb.dep_ in ('amod', 'compound')):
            continue
        preps = [words for words in map(_preposition, verb.children) if words]
        particles = [c.lower_ for c in verb.children
                     if c.dep_ == 'prt' and c.is_alpha and not (c.lower_ in _COMPOUND_HEADS and _prep_child(c))]
        lemma, surface = [verb.lemma_.lower(), *particles], [verb.lower_, *particles]
        participle = verb.tag_ in ('VBG', 'VBN')
        introduces = any(c.dep_ == 'xcomp' for c in verb.children)
        if not (introduces and not preps and not particles):
            phrases.append((' '.join(lemma), ' '.join(surface), participle))
        for words in preps:
            phrases.append((' '.join(lemma + words), ' '.join(surface + words), participle))
    return phrases


class RelationPhraseCounter:
    """Caption frequencies of relation phrases, by lemma, and the surface form each is shown in.

    A phrase counts once per caption that has it, like the entity vocabulary's
    candidates; ties are broken alphabetically, so the ranking does not depend
    on the order of the captions.
    """

    def __init__(self):
        self.counts: Counter = Counter()
        self.surfaces: Dict[str, Counter] = {}  # key -> {(participle, surface): occurrences}

    def add(self, phrases: Iterable[Phrase]) -> None:
        """The phrases of one caption."""
        seen = set()
        for key, surface, participle in phrases:
            self.surfaces.setdefault(key, Counter())[participle, surface] += 1
            seen.add(key)
        self.counts.update(seen)

    def shown_as(self, key: str) -> str:
        """The most frequent participle of the phrase, else its most frequent form."""
        return min(self.surfaces[key].items(), key=lambda kv: (not kv[0][0], -kv[1], kv[0][1]))[0][1]

    def ranked(self, min_count: int = 1) -> List[Tuple[str, int]]:
        """``(phrase as shown, caption count)``, most frequent first; keys shown alike are merged."""
        merged: Counter = Counter()
        for key, count in self.counts.items():
            merged[self.shown_as(key)] += count
        return sorted((kv for kv in merged.items() if kv[1] >= min_count), key=lambda kv: (-kv[1], kv[0]))
