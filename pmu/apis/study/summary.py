"""The summary of a study: per row n, mean, std and Δ, the flags, study.json and study.md."""
import os
import os.path as osp
import statistics
from datetime import datetime
from typing import Callable, Dict, List, Optional, Sequence

from .plan import LOG_FILE, RESULT_FILE, SPLITS, TRAIN_DONE_FILE, Row, Study, expand_runs, expand_steps, last_checkpoint
from .records import (
    MEASURED_SPLITS,
    config_difference,
    data_plan,
    empty_record,
    format_seconds,
    images_now,
    is_image_side,
    measured_data,
    read_json,
    read_result,
    write_json,
    write_text,
)


def aggregate(values: Sequence[float]) -> dict:
    """n, mean and sample std (ddof=1; 0 for one value) of finished runs."""
    values = [float(v) for v in values]
    if not values:
        return dict(n=0, mean=None, std=None)
    return dict(n=len(values), mean=statistics.mean(values),
                std=statistics.stdev(values) if len(values) > 1 else 0.0)


def collect_results(study: Study) -> Dict[str, List[dict]]:
    """Per row, one entry per seed: its result.json, or a 'pending' placeholder."""
    results = {}
    for row in study.rows:
        entries = []
        for run in expand_runs(study, [row.name]):
            result = read_result(run)
            if result is not None and 'data' not in result and osp.isfile(osp.join(run.work_dir, LOG_FILE)):
                # a result written before runs recorded their data: read from the log, and kept in
                # result.json, so that the summary keeps it when the log is gone
                result['data'] = measured_data(run)
                write_json(osp.join(run.work_dir, RESULT_FILE), result)
            entries.append(result or dict(
                row=row.name, seed=run.seed, status='pending', metrics={}, commands={},
                work_dir=run.work_dir))
        results[row.name] = entries
    return results


def collect_steps(study: Study) -> List[dict]:
    steps = []
    for step in expand_steps(study):
        done = read_json(osp.join(step.work_dir, TRAIN_DONE_FILE))
        steps.append(dict(name=step.name, config=step.config, work_dir=step.work_dir,
                          status='ok' if done else 'pending',
                          command=(done or {}).get('command'),
                          wall_time_s=(done or {}).get('wall_time_s'),
                          checkpoint=last_checkpoint(step.work_dir)))
    return steps


def _finished(entries: List[dict]) -> Dict[int, dict]:
    return {r['seed']: r for r in entries if r.get('status') == 'ok'}


def _images_text(counts: Dict[str, tuple]) -> str:
    return ', '.join(f'{split} {n}/{total}' for split, (n, total) in counts.items())


def _no_images(row: Row, entries: List[dict]) -> Optional[str]:
    """How we know that no post of the row's data had an image (for the flag's reason), or None.
    The runs' recorded counts decide; where a finished run recorded none, the data as it is now."""
    records = [(r.get('data') or {}) for r in _finished(entries).values()]
    recorded = [{s: (rec.get(s) or {}).get('images') for s in MEASURED_SPLITS} for rec in records]
    posts = [{s: (rec.get(s) or {}).get('posts') for s in MEASURED_SPLITS} for rec in records]
    if recorded and all(v is not None for rec in recorded for v in rec.values()):
        if any(v for rec in recorded for v in rec.values()):
            return None
        return 'no post of its data had an image (' + _images_text(
            {s: (0, posts[0][s]) for s in MEASURED_SPLITS}) + ')'
    plan = data_plan(row.config, row.cfg_options)
    now = images_now(plan) if plan is not None else None
    if now is None or any(n for n, _ in now.values()):
        return None
    return (f'no post of its data has an image now ({_images_text(now)}; '
            'its runs did not record their counts)')


def find_flags(study: Study, results: Dict[str, List[dict]]) -> List[dict]:
    """Rows whose figures cannot mean what the table suggests, each with its reason:
    ``identical`` (every seed finished in both gave exactly the reference's metrics) and
    ``no_images`` (the row differs from the reference only in image-side config keys, see
    :func:`is_image_side`, and its data had no image)."""
    ref = next((r for r in study.rows if r.name == study.reference), None)
    if ref is None:
        return []
    ref_done = _finished(results.get(ref.name, []))
    flags = []
    for row in study.rows:
        if row.name == ref.name:
            continue
        entries = results.get(row.name, [])
        done = _finished(entries)
        common = sorted(set(done) & set(ref_done))
        if common and all(done[s].get('metrics') == ref_done[s].get('metrics') for s in common):
            flags.append(dict(row=row.name, kind='identical', reason=(
                f'every reported metric equals the reference `{ref.name}`\'s for seed(s) '
                f'{", ".join(map(str, common))}: the two rows probably trained the same model '
                '(check the config and its options)')))
        if not done:
            continue
        plan, ref_plan = data_plan(row.config, row.cfg_options), data_plan(ref.config, ref.cfg_options)
        diff = config_difference(plan, ref_plan) if plan and ref_plan else []
        if not diff or not all(is_image_side(k) for k in diff):
            continue
        no_images = _no_images(row, entries)
        if no_images:
            keys = ', '.join(f'`{k}`' for k in diff[:4]) + (f' and {len(diff) - 4} more' if len(diff) > 4 else '')
            flags.append(dict(row=row.name, kind='no_images', keys=diff, reason=(
                f'differs from the reference `{ref.name}` only in image-side keys ({keys}), and '
                f'{no_images}: with the visual side masked out for every post, its Δ cannot be '
                'an effect of images')))
    return flags


def build_summary(study: Study, results: Dict[str, List[dict]],
                  steps: Optional[List[dict]] = None) -> dict:
    """study.json's content: every run, and per row and metric n/mean/std/Δ."""
    rows = []
    for row in study.rows:
        entries = results.get(row.name, [])
        keys = [study.metric] + [m for m in study.metrics + row.metrics if m != study.metric]
        per_split = {}
        for split in SPLITS:
            per_key = {}
            for key in keys:
                values = {str(r['seed']): r['metrics'][split][key] for r in entries
                          if r.get('status') == 'ok' and key in r['metrics'].get(split, {})}
                if values:
                    per_key[key] = dict(aggregate(list(values.values())), values=values)
            if per_key:
                per_split[split] = per_key
        main = per_split.get('val', {}).get(study.metric, aggregate([]))
        rows.append(dict(
            name=row.name, config=row.config, seeds=row.seeds,
            n=main['n'], mean=main['mean'], std=main['std'], delta=None,
            n_ok=sum(r.get('status') == 'ok' for r in entries),
            n_failed=sum(r.get('status') == 'failed' for r in entries),
            n_pending=sum(r.get('status') == 'pending' for r in entries),
            seed_status={str(r['seed']): r.get('status') for r in entries},
            metrics=per_split))
    for row, spec in zip(rows, study.rows):
        # what each finished seed's training read; None: not recorded ('unknown')
        plan = data_plan(spec.config, spec.cfg_options)
        row['data'] = {str(r['seed']): r.get('data') or {s: empty_record(plan, s) for s in MEASURED_SPLITS}
                       for r in results.get(row['name'], []) if r.get('status') == 'ok'}
        # the data columns count posts of annotation files: a row that trains on none (pre-training
        # pairs of a pseudo-label cache) has no such count; a config that no longer loads may have had
        row['reads_posts'] = plan is None or plan.ann_files.get('train') is not None
    ref = next((r for r in rows if r['name'] == study.reference), None)
    for row in rows:
        for split, per_key in row['metrics'].items():
            for key, stats in per_key.items():
                ref_stats = ((ref or {}).get('metrics') or {}).get(split, {}).get(key)
                stats['delta'] = (stats['mean'] - ref_stats['mean']) if ref_stats else None
        main = row['metrics'].get('val', {}).get(study.metric)
        row['delta'] = main['delta'] if main else None
    runs = [dict(r) for entries in results.values() for r in entries]
    return dict(study=study.path, work_dir=study.work_dir, metric=study.metric,
                reference=study.reference,
                updated=datetime.now().isoformat(timespec='seconds'),
                counts=dict(total=len(runs), ok=sum(r.get('status') == 'ok' for r in runs),
                            failed=sum(r.get('status') == 'failed' for r in runs),
                            pending=sum(r.get('status') == 'pending' for r in runs)),
                rows=rows, flags=find_flags(study, results), before=steps or [], runs=runs)


def format_number(value) -> str:
    return '—' if value is None else f'{value:.2f}'


def _delta(stats: Optional[dict], is_reference: bool) -> str:
    if is_reference:
        return 'ref.'
    if not stats or stats.get('delta') is None:
        return '—'
    return f'{stats["delta"]:+.2f}'


def _mean_std(stats: Optional[dict]) -> str:
    if not stats or stats.get('mean') is None:
        return '—'
    return f'{stats["mean"]:.2f} ± {stats["std"]:.2f}'


def _per_seed(row: dict, split: str, key: str) -> str:
    values = row['metrics'].get(split, {}).get(key, {}).get('values', {})
    cells = []
    for seed in row['seeds']:
        status = row['seed_status'].get(str(seed), 'pending')
        if str(seed) in values:
            cells.append(f'{seed}: {values[str(seed)]:.2f}')
        elif status == 'ok':
            cells.append(f'{seed}: n/a')  # finished, but the metric key was not printed
        else:
            cells.append(f'{seed}: **{status}**' if status == 'failed' else f'{seed}: {status}')
    return ', '.join(cells)


def _count(record: Optional[dict], key: str) -> str:
    """'5/40' (key of posts) per measured split, 'unknown' where a count was not recorded."""
    cells = []
    for split in MEASURED_SPLITS:
        r = (record or {}).get(split) or {}
        n, total = r.get(key), r.get('posts')
        cells.append('unknown' if n is None or total is None else f'{n}/{total}')
    return 'unknown' if set(cells) == {'unknown'} else ', '.join(cells)


def _data_cell(row: dict, cell: Callable[[dict], str]) -> str:
    """One data column of a row: the finished seeds' shared value, else each seed's."""
    values = {seed: cell(record or {}) for seed, record in row.get('data', {}).items()}
    if not values:
        return '—'
    if len(set(values.values())) == 1:
        return next(iter(values.values()))
    return '; '.join(f'{seed}: {value}' for seed, value in values.items())


def _images_cell(record: dict) -> str:
    return _count(record, 'images')


def _captions_cell(record: dict) -> str:
    if 'captions' not in (record.get('train') or {}):
        return '—'  # no caption source
    source = (record.get('train') or {}).get('caption_source')
    return _count(record, 'captions') + (f' ({source})' if source else '')


def _subset_cell(record: dict) -> str:
    train = record.get('train') or {}
    if 'used' not in train:
        return 'all'
    if train['used'] is None or train.get('posts') is None:
        return 'unknown'
    return f'{train["used"]} of {train["posts"]}'


def _has(rows: List[dict], key: str) -> bool:
    return any(key in ((record or {}).get('train') or {})
               for row in rows for record in row.get('data', {}).values())


def render_markdown(summary: dict) -> str:
    """study.md: the table, other metrics, then every run's commands."""
    metric, reference = summary['metric'], summary['reference']
    rows = summary['rows']
    has_test = any('test' in r['metrics'] for r in rows)
    counts = summary['counts']
    lines = [f'# Study `{osp.splitext(osp.basename(summary["study"]))[0]}`', '',
             f'Study config `{summary["study"]}`, work dir `{summary["work_dir"]}`. '
             f'`{metric}` on the validation split{" and the test split" if has_test else ""}: '
             'mean ± sample standard deviation over the finished seeds (n); '
             + (f'Δ = row mean − mean of the reference row `{reference}`. ' if reference else '')
             + f'{counts["ok"]}/{counts["total"]} runs finished, {counts["failed"]} failed, '
             f'{counts["pending"]} pending (updated {summary["updated"]}).', '']
    ref_col = f'Δ vs {reference}' if reference else 'Δ'
    header = ['row', 'n', f'{metric} (val)', ref_col]
    if has_test:
        header += [f'{metric} (test)', f'{ref_col} (test)']
    # studies written before 'reads_posts' was recorded: the columns, as then
    reads_posts = any(r.get('reads_posts', True) for r in rows)
    data_columns = [('images (train, val)', _images_cell)] if reads_posts else []
    if _has(rows, 'captions'):
        data_columns.append(('captions (train, val)', _captions_cell))
    if _has(rows, 'used'):
        data_columns.append(('trained on (posts)', _subset_cell))
    header += [title for title, _ in data_columns]
    header.append('per seed (val)')
    lines += ['| ' + ' | '.join(header) + ' |',
              '| ' + ' | '.join(['---'] + ['---:'] * (len(header) - 2 - len(data_columns))
                                + ['---'] * (len(data_columns) + 1)) + ' |']
    for row in rows:
        is_ref = row['name'] == reference
        val = row['metrics'].get('val', {}).get(metric)
        cells = [f'`{row["name"]}`', str(row['n']), _mean_std(val), _delta(val, is_ref)]
        if has_test:
            test = row['metrics'].get('test', {}).get(metric)
            cells += [_mean_std(test), _delta(test, is_ref and test is not None)]
        cells += [_data_cell(row, cell) for _, cell in data_columns]
        cells.append(_per_seed(row, 'val', metric))
        lines.append('| ' + ' | '.join(cells) + ' |')
    if reads_posts:
        lines += ['', 'Images: posts with a readable image of the training and the validation split, as '
                  "the runs' logs counted them ('unknown': not recorded)"
                  + ('; captions: posts with a caption' if _has(rows, 'captions') else '')
                  + ('; trained on: the training subset (`dataset.indices`)' if _has(rows, 'used') else '')
                  + '.']
    for flag in summary.get('flags') or []:
        lines += ['', f'⚠ `{flag["row"]}`: {flag["reason"]}.']

    extra = [(row, split, key, stats) for row in rows
             for split, per_key in row['metrics'].items()
             for key, stats in per_key.items() if key != metric]
    if extra:
        lines += ['', '## Other metrics', '',
                  f'| row | split | metric | n | mean ± std | {ref_col} |',
                  '| --- | --- | --- | ---: | ---: | ---: |']
        for row, split, key, stats in extra:
            lines.append(f'| `{row["name"]}` | {split} | `{key}` | {stats["n"]} | '
                         f'{_mean_std(stats)} | {_delta(stats, row["name"] == reference)} |')

    failed = [r for r in summary['runs'] if r.get('status') == 'failed']
    if failed:
        lines += ['', '## Failed runs', '']
        lines += [f'- `{r["row"]}` seed {r["seed"]}: {r.get("error", "?")} (log `{r.get("log")}`)'
                  for r in failed]

    lines += ['', '## Commands', '',
              'Run from the directory the study ran in; each run\'s output is in its '
              '`run.log`.', '']
    for step in summary.get('before') or []:
        lines += [f'### before step `{step["name"]}`: {step["status"]}'
                  + (f', {format_seconds(step["wall_time_s"])}' if step.get('wall_time_s')
                     else ''), '']
        if step.get('command'):
            lines += ['```bash', step['command'], '```', '']
    for r in summary['runs']:
        wall = (r.get('wall_time_s') or {}).get('total')
        title = f'### `{r["row"]}` seed {r["seed"]}: {r.get("status")}'
        if wall is not None:
            title += f', {format_seconds(wall)}'
        if r.get('env'):
            title += ' (' + ', '.join(f'{k}={v}' for k, v in r['env'].items()) + ')'
        lines += [title, '']
        commands = [c for c in (r.get('commands') or {}).values() if c]
        if commands:
            lines += ['```bash'] + commands + ['```', '']
        elif r.get('status') == 'pending':
            lines += ['not run yet', '']
        if r.get('test_split') and 'test' not in (r.get('metrics') or {}):
            lines += [f'test split: {r["test_split"]}', '']
    return '\n'.join(lines).rstrip() + '\n'


def write_summary(study: Study) -> dict:
    """Rebuild WORK_DIR/study.json and study.md from the runs' result.json files."""
    summary = build_summary(study, collect_results(study), collect_steps(study))
    os.makedirs(study.work_dir, exist_ok=True)
    write_json(osp.join(study.work_dir, 'study.json'), summary)
    write_text(osp.join(study.work_dir, 'study.md'), render_markdown(summary))
    return summary
