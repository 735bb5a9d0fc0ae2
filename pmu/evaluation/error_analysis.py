"""What a model got wrong, post by post: error kinds and confusion tables of MNER and MRE predictions.

MMDetection's ``analyze_results.py`` and spaCy's ``evaluate --displacy-path`` let one look at the errors
behind a score; this module classifies them so that ``tools/test.py --show-dir`` can draw and count them.

**MNER** (entity spans of gold and predicted BIO tags, read as the metric's headline ``ner/f1`` reads them:
seqeval's default conlleval mode, where an orphan ``I-X`` starts an entity). Gold and predicted spans of a
sentence are paired one to one: identical boundaries first, then overlapping spans, largest overlap first.
Each span gets one record:

- ``correct``: paired, same boundaries and type;
- ``wrong_type``: paired, same boundaries, another type;
- ``wrong_boundary``: paired, overlapping, other boundaries, same type;
- ``wrong_boundary_type``: paired, overlapping, other boundaries and another type;
- ``false_positive``: a prediction that overlaps no gold span;
- ``miss``: a gold span that no prediction overlaps.

A span left unpaired that still overlaps one of the other side (a prediction split in two, or covering two
gold spans) is a wrong boundary too, against the span it overlaps most (``against``); it stays unpaired in the
confusion table. The table (gold type × predicted type, with ``none`` for an unpaired span) so counts every
gold span once in its row and every prediction once in its column: row totals are the metric's per-type
support, column totals the predictions per type.

**MRE** (one gold and one predicted relation per instance; ``none_label`` is "no relation"): ``correct``,
``wrong_relation`` (both not None, different), ``missed_relation`` (gold not None, predicted None),
``spurious_relation`` (gold None, predicted not None). The table is gold relation × predicted relation.
"""
from collections import Counter
from typing import Dict, List, Optional, Sequence, Tuple

from seqeval.metrics.sequence_labeling import get_entities

Span = Tuple[str, int, int]  # (type, start word, end word exclusive)

NER_ERROR_KINDS = ('false_positive', 'miss', 'wrong_type', 'wrong_boundary', 'wrong_boundary_type')
RE_ERROR_KINDS = ('wrong_relation', 'missed_relation', 'spurious_relation')
NONE = 'none'  # the MNER confusion table's row and column of unpaired spans


def conlleval_spans(tags: Sequence[str]) -> List[Span]:
    """Entities of a tag sequence as seqeval's default mode (``ner/f1``) counts them, end exclusive."""
    return [(t, s, e + 1) for t, s, e in get_entities(list(tags))]


def _overlap(a: Span, b: Span) -> int:
    return min(a[2], b[2]) - max(a[1], b[1])


def _pair(gold: Sequence[Span], pred: Sequence[Span]) -> List[Tuple[Span, Span]]:
    """One-to-one pairs: same boundaries first, then overlapping spans, the largest overlap first."""
    by_bounds = {g[1:]: g for g in gold}
    pairs = [(by_bounds[p[1:]], p) for p in pred if p[1:] in by_bounds]
    used_g, used_p = {g for g, _ in pairs}, {p for _, p in pairs}
    candidates = sorted(((g, p) for g in gold for p in pred
                         if g not in used_g and p not in used_p and _overlap(g, p) > 0),
                        key=lambda gp: (-_overlap(*gp), gp[0][1], gp[1][1]))
    for g, p in candidates:
        if g not in used_g and p not in used_p:
            pairs.append((g, p))
            used_g.add(g)
            used_p.add(p)
    return pairs


def _boundary_kind(a: Span, b: Span) -> str:
    return 'wrong_boundary' if a[0] == b[0] else 'wrong_boundary_type'


def _paired_kind(g: Span, p: Span) -> str:
    if g[1:] == p[1:]:
        return 'correct' if g[0] == p[0] else 'wrong_type'
    return _boundary_kind(g, p)


def _lone(span: Span, others: Sequence[Span], alone: str) -> Tuple[str, Optional[Span]]:
    """An unpaired span's kind: ``alone`` when nothing overlaps it, else a wrong boundary against the
    span overlapping it most."""
    over = [o for o in others if _overlap(span, o) > 0]
    if not over:
        return alone, None
    against = max(over, key=lambda o: (_overlap(span, o), -o[1]))
    return _boundary_kind(span, against), against


def entity_records(gold: Sequence[Span], pred: Sequence[Span]) -> List[dict]:
    """One record per gold and per predicted span of a sentence: ``dict(kind, gold, pred, against)``
    (``gold``/``pred``: the paired spans, ``None`` for an unpaired one), in text order."""
    pairs = _pair(gold, pred)
    records = [dict(kind=_paired_kind(g, p), gold=g, pred=p, against=None) for g, p in pairs]
    paired_g, paired_p = {g for g, _ in pairs}, {p for _, p in pairs}
    for g in gold:
        if g not in paired_g:
            kind, against = _lone(g, pred, 'miss')
            records.append(dict(kind=kind, gold=g, pred=None, against=against))
    for p in pred:
        if p not in paired_p:
            kind, against = _lone(p, gold, 'false_positive')
            records.append(dict(kind=kind, gold=None, pred=p, against=against))
    return sorted(records, key=lambda r: min(s[1] for s in (r['gold'], r['pred']) if s))


def relation_kind(gold: str, pred: str, none_label: str = 'None') -> str:
    """``correct``, ``wrong_relation``, ``missed_relation`` or ``spurious_relation``."""
    if gold == pred:
        return 'correct'
    if pred == none_label:
        return 'missed_relation'
    return 'spurious_relation' if gold == none_label else 'wrong_relation'


def confusion_table(pairs: Sequence[Tuple[str, str]], labels: Sequence[str] = (), last: str = '') -> dict:
    """``dict(rows, columns, counts)``: ``counts[i][j]`` = pairs with gold ``rows[i]`` and prediction
    ``columns[j]``. Rows and columns are the same labels: ``labels`` that occur, in that order, then others
    sorted, then ``last`` (the ``none`` of MNER) when it occurs."""
    seen = {x for pair in pairs for x in pair}
    order = [x for x in dict.fromkeys([*labels, *sorted(seen - {last})]) if x in seen and x != last]
    order += [last] if last in seen else []
    counts = Counter(pairs)
    return dict(rows=order, columns=order, counts=[[counts[g, p] for p in order] for g in order])


def _scores(correct: int, predicted: int, gold: int) -> Dict[str, float]:
    """Micro precision, recall and F1 in percent, rounded as the metrics round them."""
    p = correct / predicted if predicted else 0.0
    r = correct / gold if gold else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return dict(precision=round(100 * p, 2), recall=round(100 * r, 2), f1=round(100 * f1, 2))


def analyse_entities(sentences: Sequence[Tuple[Sequence[str], Sequence[str]]],
                     types: Sequence[str] = ()) -> dict:
    """Error records and counts of MNER predictions: ``sentences`` are ``(gold tags, predicted tags)``.

    Returns ``dict(summary, posts)``: ``posts[i]`` = ``dict(gold, pred, records, errors)`` (spans and
    records of sentence ``i``; ``errors``: its records that are not ``correct``); ``summary`` = ``task``,
    ``posts``, ``posts_with_errors``, ``gold``, ``predicted``, ``correct``, micro ``precision``/``recall``/
    ``f1`` (percent, as ``ner/...``), ``errors`` (count per kind) and ``confusion`` (types, ``none`` last).
    """
    posts, kinds, cells = [], Counter(), []
    for gold_tags, pred_tags in sentences:
        gold, pred = conlleval_spans(gold_tags), conlleval_spans(pred_tags)
        records = entity_records(gold, pred)
        errors = [r for r in records if r['kind'] != 'correct']
        kinds.update(r['kind'] for r in records)
        cells += [((r['gold'] or (NONE,))[0], (r['pred'] or (NONE,))[0]) for r in records]
        posts.append(dict(gold=gold, pred=pred, records=records, errors=errors))
    n_gold = sum(len(p['gold']) for p in posts)
    n_pred = sum(len(p['pred']) for p in posts)
    summary = dict(task='mner', posts=len(posts), posts_with_errors=sum(bool(p['errors']) for p in posts),
                   gold=n_gold, predicted=n_pred, correct=kinds['correct'],
                   **_scores(kinds['correct'], n_pred, n_gold),
                   errors={k: kinds[k] for k in NER_ERROR_KINDS},
                   confusion=confusion_table(cells, types, NONE))
    return dict(summary=summary, posts=posts)


def analyse_relations(gold: Sequence[str], pred: Sequence[str], relations: Sequence[str] = (),
                      none_label: str = 'None') -> dict:
    """Error kinds and counts of MRE predictions, one gold and one predicted relation per instance.

    Returns ``dict(summary, posts)``: ``posts[i]`` = ``dict(gold, pred, kind, errors)`` (``errors``:
    ``[kind]`` or ``[]``); ``summary`` = ``task``, ``posts``, ``posts_with_errors``, ``gold`` / ``predicted``
    / ``correct`` (instances whose gold / prediction / both are a non-None relation, as the metric counts
    them), ``precision``/``recall``/``f1``/``accuracy`` (percent, as ``re/...``), ``errors`` and
    ``confusion`` (gold relation × predicted relation, ``relations`` order)."""
    if len(gold) != len(pred):
        raise ValueError(f'{len(gold)} gold relations but {len(pred)} predictions')
    posts, kinds = [], Counter()
    for g, p in zip(gold, pred):
        kind = relation_kind(g, p, none_label)
        kinds[kind] += 1
        posts.append(dict(gold=g, pred=p, kind=kind, errors=[] if kind == 'correct' else [kind]))
    n_gold = sum(g != none_label for g in gold)
    n_pred = sum(p != none_label for p in pred)
    correct = sum(g == p != none_label for g, p in zip(gold, pred))
    summary = dict(task='mre', posts=len(posts), posts_with_errors=len(posts) - kinds['correct'],
                   gold=n_gold, predicted=n_pred, correct=correct, **_scores(correct, n_pred, n_gold),
                   accuracy=round(100 * kinds['correct'] / len(posts), 2) if posts else 0.0,
                   errors={k: kinds[k] for k in RE_ERROR_KINDS},
                   confusion=confusion_table(list(zip(gold, pred)), relations))
    return dict(summary=summary, posts=posts)


def analyse_metric(metric) -> Optional[dict]:
    """The analysis of what an MNER or MRE metric last evaluated (its ``last_results``), each post with
    its dataset ``sample_idx`` and ``img_id``; ``None`` for another metric or before an evaluation (and on
    the ranks other than 0 of a distributed run, which hold no results)."""
    from .metrics import RelationMetric, SeqevalNERMetric
    results = getattr(metric, 'last_results', None)
    meta = getattr(metric, 'dataset_meta', None) or {}
    if results is None:
        return None
    if isinstance(metric, SeqevalNERMetric):
        analysis = analyse_entities([(r['gold'], r['pred']) for r in results], meta.get('entity_types', ()))
    elif isinstance(metric, RelationMetric):
        relations = list(meta.get('relations', ()))
        analysis = analyse_relations([r['gold'] for r in results], [r['pred'] for r in results],
                                     relations, metric.none_label)
        for post, r in zip(analysis['posts'], results):
            post['scores'] = dict(zip(relations, r['scores'])) if relations else {}
    else:
        return None
    for i, (post, r) in enumerate(zip(analysis['posts'], results)):
        idx = r.get('sample_idx')
        post.update(sample_idx=i if idx is None else int(idx), img_id=r.get('img_id'))
    return analysis


def analyse_evaluator(evaluator) -> Optional[dict]:
    """:func:`analyse_metric` of the first MNER or MRE metric of an MMEngine ``Evaluator``."""
    for metric in getattr(evaluator, 'metrics', ()):
        analysis = analyse_metric(metric)
        if analysis is not None:
            return analysis
    return None
