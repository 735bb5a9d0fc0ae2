"""Pages, pictures and tables of a model's errors on a split: what ``tools/test.py --show-dir DIR`` writes.

The analysis (error kinds, confusion table) comes from :mod:`pmu.evaluation.error_analysis` as plain data;
this module turns each analysed post into a result dict of :mod:`pmu.visualization.post_visualizer` (gold and
predicted entities or relation, ``errors``), and writes into ``DIR``:

- ``index.html``: every post, the counts of each error kind and the confusion table above them;
- ``errors.html``: the same header, the posts with at least one error only;
- ``posts/NNNNN.png`` (``NNNNN``: the post's index in the split): the first ``limit`` posts with an error;
- ``confusion.csv``: the confusion table (gold label per row, predicted label per column);
- ``analysis.json``: the counts (posts, gold, predicted, correct, per error kind), micro scores, the confusion
  table, the run's metrics and the files written;
- ``errors.jsonl``: one line per post with an error: its index, image id, text and errors (kind, message, spans).
"""
import csv
import html
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

from pmu.utils.progress import track
from .browse import result_from_sample
from .post_visualizer import PostVisualizer, error_colour, error_name, post_from_words


def _quote(words: Sequence[str], span) -> str:
    return f'"{" ".join(words[span[1]:span[2]])}" {span[0]}'


def entity_error_message(record: dict, words: Sequence[str]) -> str:
    """A sentence saying what went wrong, e.g. ``"Kawhi" PER: gold, predicted "Kawhi Leonard" PER``."""
    gold, pred, against = record['gold'], record['pred'], record.get('against')
    if gold and pred:
        if gold[1:] == pred[1:]:
            return f'{_quote(words, gold)} predicted as {pred[0]}'
        return f'gold {_quote(words, gold)}, predicted {_quote(words, pred)}'
    side, span = ('gold', gold) if gold else ('predicted', pred)
    if against is None:
        return f'{side} {_quote(words, span)}' + (': nothing predicted there' if gold else ': no gold entity there')
    other = 'predicted' if gold else 'gold'
    return (f'{side} {_quote(words, span)} overlaps {other} {_quote(words, against)}, '
            f'which is paired with another {side} span')


def _mark(entities: List[dict], spans, records: List[dict], side: str) -> None:
    """Give each wrong entity its record's kind (``'error'``), for the page to outline it."""
    by_span = dict(zip(map(tuple, spans), entities))
    for r in records:
        if r['kind'] != 'correct' and r[side]:
            by_span[tuple(r[side])]['error'] = r['kind']


def entity_result(info: dict, post: dict) -> dict:
    """An MNER post of the analysis as a result dict: predicted ``entities``, ``gold_entities`` (both from
    the analysed spans) and ``errors``."""
    result = result_from_sample(info)
    words = result['words']
    _, result['gold_entities'] = post_from_words(words, post['gold'])
    _, result['entities'] = post_from_words(words, post['pred'])
    _mark(result['gold_entities'], post['gold'], post['records'], 'gold')
    _mark(result['entities'], post['pred'], post['records'], 'pred')
    result['errors'] = [dict(kind=r['kind'], message=entity_error_message(r, words)) for r in post['errors']]
    return result


def relation_result(info: dict, post: dict) -> dict:
    """An MRE instance of the analysis as a result dict: the predicted ``relation`` with its probability,
    ``gold_relation`` and ``errors``."""
    result = result_from_sample(info)
    scores = post.get('scores') or {}
    result.update(relation=post['pred'], score=scores.get(post['pred']), scores=scores,
                  gold_relation=post['gold'])
    result['errors'] = [dict(kind=k, message=f"gold {post['gold']}, predicted {post['pred']}")
                        for k in post['errors']]
    return result


def results_from_analysis(dataset, analysis: dict, progress: bool = True) -> List[dict]:
    """One result dict per analysed post, the post's words and image from ``dataset`` (its ``sample_idx``)."""
    make = entity_result if analysis['summary']['task'] == 'mner' else relation_result
    posts = analysis['posts']
    return [make(dataset.get_data_info(p['sample_idx']), p)
            for p in track(posts, 'results', unit='post', enabled=progress, min_total=200)]


def _cell(n: int, diagonal: bool) -> str:
    cls = 'diag' if diagonal else ('zero' if not n else '')
    return f'<td class="{cls}">{n}</td>' if cls else f'<td>{n}</td>'


def confusion_html(table: dict) -> str:
    """The confusion table with totals, gold labels as rows, predicted labels as columns."""
    rows, cols, counts = table['rows'], table['columns'], table['counts']
    head = ''.join(f'<th>{html.escape(c)}</th>' for c in cols)
    body = ''.join(
        f'<tr><th>{html.escape(g)}</th>' + ''.join(_cell(n, g == c) for n, c in zip(line, cols))
        + f'<td>{sum(line)}</td></tr>' for g, line in zip(rows, counts))
    totals = ''.join(f'<td>{sum(line[j] for line in counts)}</td>' for j in range(len(cols)))
    return ('<table class="confusion" border="1"><tr><th>gold \\ predicted</th>' + head + '<th>total</th></tr>'
            + body + f'<tr><th>total</th>{totals}<td>{sum(map(sum, counts))}</td></tr></table>')


def summary_html(summary: dict, metrics: Optional[dict] = None) -> str:
    """The counts of posts, spans or relations and of each error kind (``id="count-<kind>"``), the micro
    scores, the run's metrics and the confusion table."""
    unit = 'entities' if summary['task'] == 'mner' else 'relations (not None)'
    counts = ''.join(
        f'<tr><td style="color:rgb{error_colour(k)}">{html.escape(error_name(k))}</td>'
        f'<td id="count-{k}">{n}</td></tr>' for k, n in summary['errors'].items())
    parts = [f'<p><span id="posts">{summary["posts"]}</span> posts, <span id="posts-with-errors">'
             f'{summary["posts_with_errors"]}</span> with at least one error. {unit}: gold <span id="gold">'
             f'{summary["gold"]}</span>, predicted <span id="predicted">{summary["predicted"]}</span>, correct '
             f'<span id="correct">{summary["correct"]}</span> (P {summary["precision"]:.2f}, R '
             f'{summary["recall"]:.2f}, F1 {summary["f1"]:.2f}).</p>',
             f'<table class="counts"><tr><th>error</th><th>count</th></tr>{counts}</table>']
    if metrics:
        parts.append('<p class="small">metrics: ' + html.escape(
            ', '.join(f'{k} {v}' for k, v in metrics.items())) + '</p>')
    parts.append('<h3>confusion (gold × predicted)</h3>' + confusion_html(summary['confusion']))
    return ''.join(parts)


def write_confusion_csv(table: dict, out_file: str) -> str:
    """The confusion table as CSV: a header of predicted labels, then one row per gold label."""
    with open(out_file, 'w', encoding='utf-8', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['gold \\ predicted', *table['columns']])
        for g, line in zip(table['rows'], table['counts']):
            writer.writerow([g, *line])
    return out_file


def _jsonable(error: dict, record) -> dict:
    """An error with, for MNER, its spans as ``[type, start word, end word)``."""
    row = dict(error)
    if isinstance(record, dict):
        row.update({k: list(record[k]) if record[k] else None for k in ('gold', 'pred', 'against')})
    return row


def write_errors_jsonl(results: Sequence[dict], analysis: dict, out_file: str) -> str:
    """One JSON line per post with an error: ``sample_idx``, ``img_id``, ``text``, ``errors``."""
    with open(out_file, 'w', encoding='utf-8') as f:
        for result, post in zip(results, analysis['posts']):
            if post['errors']:
                errors = [_jsonable(e, r) for e, r in zip(result['errors'], post['errors'])]
                f.write(json.dumps(dict(sample_idx=post['sample_idx'], img_id=post.get('img_id'),
                                        text=result['text'], errors=errors), ensure_ascii=False) + '\n')
    return out_file


def write_error_report(out_dir: str, dataset, analysis: dict, metrics: Optional[Dict] = None, limit: int = 300,
                       title: str = 'errors', visualizer: Optional[PostVisualizer] = None,
                       progress: bool = True) -> Dict[str, str]:
    """Write the pages, pictures and tables of the module docstring into ``out_dir``; returns their paths
    (``pngs``: the folder) and sets ``analysis['summary']['pngs']`` to the number of pictures drawn.
    ``limit``: pictures of at most this many posts with an error (0: all)."""
    vis = visualizer or PostVisualizer()
    summary = analysis['summary']
    results = results_from_analysis(dataset, analysis, progress)
    posts = [vis.post_html(r) for r in track(results, 'html', unit='post', enabled=progress, min_total=200)]
    wrong = [i for i, p in enumerate(analysis['posts']) if p['errors']]
    shown = wrong if not limit else wrong[:limit]
    os.makedirs(out_dir, exist_ok=True)
    paths = dict(index=osp.join(out_dir, 'index.html'), errors=osp.join(out_dir, 'errors.html'),
                 pngs=osp.join(out_dir, 'posts'), confusion=osp.join(out_dir, 'confusion.csv'),
                 errors_jsonl=osp.join(out_dir, 'errors.jsonl'), json=osp.join(out_dir, 'analysis.json'))
    for i in track(shown, 'pictures', unit='post', enabled=progress, min_total=50):
        vis.draw_post(results[i], osp.join(paths['pngs'], f"{analysis['posts'][i]['sample_idx']:05d}.png"))
    intro = summary_html(summary, metrics)
    vis.write_page(posts, paths['index'], f'{title}: all posts', intro)
    vis.write_page([posts[i] for i in wrong], paths['errors'], f'{title}: posts with errors', intro)
    write_confusion_csv(summary['confusion'], paths['confusion'])
    write_errors_jsonl(results, analysis, paths['errors_jsonl'])
    summary['pngs'] = len(shown)
    with open(paths['json'], 'w', encoding='utf-8') as f:
        json.dump(dict(summary, title=title, metrics=metrics or {}, files=paths), f, indent=1, ensure_ascii=False)
    return paths
