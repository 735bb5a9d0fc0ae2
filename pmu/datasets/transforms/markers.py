"""Entity markers for relation extraction: ``<e1> head </e1>`` and ``<e2> tail </e2>``."""
from typing import List, Optional, Sequence, Tuple

from pmu.registry import TRANSFORMS
from pmu.utils import build_tokenizer

# Head open, head close, tail open, tail close: strings no supported tokenizer knows, so each becomes
# a new special token with an embedding row of its own (rows vocab+0..3, in this order), whatever the
# encoder. pmu's first markers, <s> </s> <o> </o>, were new to BERT's vocabulary but are MPNet's (and
# RoBERTa's) [CLS] and separator; build_tokenizer now refuses a marker a tokenizer already knows. A
# MiniLM/BERT checkpoint trained with those markers loads as it is: the four rows are the same roles.
ENTITY_MARKERS = ('<e1>', '</e1>', '<e2>', '</e2>')


def insert_markers(words: Sequence[str], head: Tuple[int, int], tail: Tuple[int, int],
                   markers: Sequence[str] = ENTITY_MARKERS) -> Tuple[List[str], List[int]]:
    """Put the markers around the half-open ``head`` and ``tail`` word spans.

    Returns the marked words and the index of each marker in them, in the
    order of ``markers`` (head open, head close, tail open, tail close).

    Nested and identical spans stay well bracketed (MNRE has a few dozen,
    e.g. "SAP SE" / "SAP"): at one position closing
    markers come before opening ones, an outer span opens before and closes
    after an inner one, and for identical spans the head is the outer one.
    """
    h_open, h_close, t_open, t_close = markers
    events = []  # (word position, order at that position, marker, its slot in `markers`)
    for rank, (start, end), opening, closing in ((0, head, h_open, h_close),
                                                 (1, tail, t_open, t_close)):
        events.append((start, (1, -end, rank), opening, 2 * rank))
        events.append((end, (0, -start, -rank), closing, 2 * rank + 1))
    events.sort(key=lambda e: (e[0], e[1]))
    marked, positions, k = [], [0] * 4, 0
    for pos in range(len(words) + 1):
        while k < len(events) and events[k][0] == pos:
            positions[events[k][3]] = len(marked)
            marked.append(events[k][2])
            k += 1
        if pos < len(words):
            marked.append(words[pos])
    return marked, positions


def entity_window(costs: Sequence[int], first: int, last: int, budget: int) -> Tuple[int, int]:
    """The word window ``[lo, hi)`` that keeps ``first..last`` and grows both ways in ``budget``.

    ``costs`` are the sub-words per word. When ``first..last`` alone exceeds
    the budget the window starts at ``first`` and truncation cuts the rest.
    """
    lo, hi = first, last + 1
    used = sum(costs[lo:hi])
    if used > budget:
        return first, len(costs)
    grown = True
    while grown:
        grown = False
        if lo > 0 and used + costs[lo - 1] <= budget:
            lo -= 1
            used += costs[lo]
            grown = True
        if hi < len(costs) and used + costs[hi] <= budget:
            used += costs[hi]
            hi += 1
            grown = True
    return lo, hi


@TRANSFORMS.register_module()
class InsertEntityMarkers:
    """Insert ``<e1> </e1> <e2> </e2>`` as words around ``results['head']`` and ``results['tail']``.

    Rewrites ``results['words']`` and adds ``head_marker`` / ``tail_marker``
    (word indices of the opening markers ``<e1>`` and ``<e2>``; :class:`TokenizeWords`
    then maps them to sub-words through ``word_ids``) and ``num_cropped_words``.

    With ``tokenizer`` and ``max_length`` (the same as :class:`TokenizeWords`),
    a post longer than ``max_length`` sub-words is cut to a window around the
    two entities instead of losing its end to truncation, so no marker is cut
    silently; ``markers_fit`` says whether both opening markers survive.

    Args:
        markers: head open, head close, tail open, tail close; four distinct
            strings the tokenizer does not know (``build_tokenizer`` refuses
            a special token or vocabulary entry of it, e.g. MPNet's ``<s>``).
        tokenizer: the encoder's tokenizer (hub name, folder or ``pkg:`` path).
        max_length: sub-words per sample, special tokens included.
    """

    def __init__(self,
                 markers: Sequence[str] = ENTITY_MARKERS,
                 tokenizer: Optional[str] = None,
                 max_length: Optional[int] = None):
        if len(markers) != 4:
            raise ValueError(f'markers must be (head open, head close, tail open, tail close), '
                             f'got {markers!r}')
        if len(set(markers)) != 4:
            raise ValueError(f'markers must be four distinct strings, got {markers!r}')
        if (tokenizer is None) != (max_length is None):
            raise ValueError('give both tokenizer and max_length (to crop long posts around '
                             'the entities) or neither')
        self.markers = tuple(markers)
        self.tokenizer_name = tokenizer
        self.max_length = max_length

    @property
    def tokenizer(self):
        return build_tokenizer(self.tokenizer_name, self.markers)

    def __call__(self, results: dict) -> dict:
        words, positions = insert_markers(
            results['words'], tuple(results['head']), tuple(results['tail']), self.markers)
        head_marker, tail_marker = positions[0], positions[2]
        lo, hi, fit, too_long = 0, len(words), True, False
        if self.max_length is not None:
            tok = self.tokenizer
            enc = tok(words, is_split_into_words=True, add_special_tokens=False)
            costs = [0] * len(words)
            for w in enc.word_ids():
                costs[w] += 1
            # a word with no sub-word becomes TokenizeWords' unknown token: one sub-word
            costs = [c or 1 for c in costs]
            budget = self.max_length - tok.num_special_tokens_to_add()
            too_long = sum(costs) > budget
            if too_long:
                first, last = min(positions), max(positions)
                lo, hi = entity_window(costs, first, last, budget)
                kept = sum(costs[lo:hi])
                fit = (kept <= budget
                       or sum(costs[lo:max(head_marker, tail_marker) + 1]) <= budget)
        results['words'] = words[lo:hi]
        results['head_marker'] = head_marker - lo
        results['tail_marker'] = tail_marker - lo
        results['num_cropped_words'] = len(words) - (hi - lo)
        results['markers_fit'] = fit
        # over max_length: cut to a window, or (entities alone over the budget, starting at the first
        # word) left for truncation to cut the end, in which case no word is cropped here
        results['exceeds_max_length'] = too_long
        return results

    def __repr__(self):
        return (f'{type(self).__name__}(markers={self.markers}, '
                f'tokenizer={self.tokenizer_name!r}, max_length={self.max_length})')


def count_cropped_instances(data_list, pipeline) -> Tuple[int, int]:
    """``(instances longer than max_length, instances that lose an opening marker)``.

    An instance over ``max_length`` counts whether it is cut to a window or, when
    its entities alone exceed the budget from its first word on, only truncated
    at the end (before, such an instance was not counted: no word is cropped).

    Runs the pipeline's :class:`InsertEntityMarkers` (and, when that has no
    ``max_length``, its :class:`TokenizeWords`) on each instance, so the
    counts match what training and evaluation see.
    """
    from .tokenization import TokenizeWords
    transforms = getattr(pipeline, 'transforms', [])
    marker = next((t for t in transforms if isinstance(t, InsertEntityMarkers)), None)
    tokenize = next((t for t in transforms if isinstance(t, TokenizeWords)), None)
    if marker is None:
        return 0, 0
    n_cropped = n_lost = 0
    for info in data_list:
        r = marker(dict(words=info['words'], head=info['head'], tail=info['tail']))
        n_cropped += r['num_cropped_words'] > 0 or r['exceeds_max_length']
        if marker.max_length is None and tokenize is not None:
            # no window: TokenizeWords truncates the end of long posts
            r = tokenize(r)
            n_cropped += r['word_ids'][-1] < 0
            n_lost += r['word_ids'][r['head_marker']] < 0 or r['word_ids'][r['tail_marker']] < 0
        else:
            n_lost += not r['markers_fit']
    return n_cropped, n_lost
