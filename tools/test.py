"""Evaluate a checkpoint: ``python tools/test.py CONFIG CHECKPOINT [--out FILE] [--show-dir DIR] [--non-strict]``.

The checkpoint must match the config's model key for key and shape: one of
another task (MRE given to an MNER config) stops before anything is built,
saying so (``this is an MNER checkpoint (its head has 9 tags ...)``); one of
another model of the same task stops naming the missing and unexpected key
groups; ``--non-strict`` loads what matches and logs what does not. Mistakes
(a config path, a key of ``--cfg-options``, no data, the checkpoint) end in
one line, ``tools/test.py: error: ...`` (``PMU_DEBUG=1`` or ``--debug``: the
traceback). Only the weights (``state_dict``) are read:
a checkpoint written by plain MMEngine (no pmu random states, its message hub
pickling HistoryBuffer's statistics functions) is evaluated like pmu's own.
A checkpoint whose weights hold NaN or infinity is refused
(``NonFiniteCheckpointError`` naming the first such tensors; no metrics).

``--show-dir DIR`` then writes what the model got wrong on the evaluated split
(:mod:`pmu.evaluation.error_analysis` classifies, :mod:`pmu.visualization.error_report`
draws): ``index.html`` and ``errors.html`` (gold beside predicted, each error
marked by kind), ``posts/*.png`` of the first ``--show-limit`` posts with an
error, the confusion table (``confusion.csv``) and the counts (``analysis.json``).
"""
import argparse
import json
import os
import os.path as osp

from mmengine.config import DictAction


def parse_args():
    parser = argparse.ArgumentParser(description='Evaluate a pmu model')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file, or a work dir: its best checkpoint (the validation\'s '
                        'choice, as the inferencer takes), else its last')
    parser.add_argument('--work-dir', help='where the evaluation log goes')
    parser.add_argument(
        '--non-strict', '--no-strict', dest='non_strict', action='store_true',
        help='load a checkpoint that does not match the model (the log names what was missing)')
    parser.add_argument(
        '--out', help='write predictions: CoNLL (word, gold, predicted) for NER, '
        'one JSON line per instance for RE')
    parser.add_argument(
        '--show-dir', help='write pages, pictures and counts of the errors on the evaluated split here')
    parser.add_argument(
        '--show-limit', type=int, default=300,
        help='with --show-dir: draw PNGs of at most this many posts with an error (0: all)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, help='override config keys')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    parser.add_argument('--debug', action='store_true',
                        help='show the traceback of a mistake (a config path, a key, the data root), as PMU_DEBUG=1')
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main():
    args = parse_args()
    from pmu.engine import build_runner, register_safe_globals
    register_safe_globals()  # MMEngine's load_from / --resume through pmu's safe torch.load
    from mmengine.model import is_model_wrapper

    from pmu.apis.config import check_checkpoint_matches, check_data_files, load_tool_config, prepare_test_config
    from pmu.utils.checkpoint import load_mapped_checkpoint, resolve_checkpoint

    args.checkpoint = resolve_checkpoint(args.checkpoint, prefer_best=True)
    cfg = load_tool_config(args)
    # mistakes found before the runner's first line: no data, the weights of another task
    check_data_files(cfg, ('test', ))
    if not args.non_strict:
        check_checkpoint_matches(cfg, args.checkpoint)
    prepare_test_config(cfg, checkpoint=args.checkpoint, out=args.out)
    cfg.load_from = None  # loaded below, strictly unless --non-strict
    runner = build_runner(cfg)
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    load_mapped_checkpoint(model, args.checkpoint, strict=not args.non_strict, logger=runner.logger)
    metrics = runner.test()
    metrics = {k: float(v) if hasattr(v, 'item') else v for k, v in metrics.items()}
    if args.show_dir:
        show_errors(runner, args.show_dir, args.show_limit, metrics)
    print(json.dumps(metrics))


def show_errors(runner, show_dir: str, limit: int, metrics: dict) -> None:
    """The error report of the split just evaluated (rank 0 holds the metric's results)."""
    from mmengine.dist import is_main_process

    from pmu.evaluation.error_analysis import analyse_evaluator
    from pmu.visualization.error_report import write_error_report

    if not is_main_process():
        return
    analysis = analyse_evaluator(runner.test_loop.evaluator)
    if analysis is None:
        runner.logger.warning('--show-dir: the test evaluator has no MNER or MRE metric; nothing written')
        return
    dataset = runner.test_loop.dataloader.dataset
    split = osp.splitext(osp.basename(getattr(dataset, 'ann_file', '') or 'test'))[0]
    paths = write_error_report(show_dir, dataset, analysis, metrics, limit, title=split)
    s = analysis['summary']
    runner.logger.info(f"--show-dir: {s['posts_with_errors']}/{s['posts']} posts with errors "
                       f"({', '.join(f'{k} {n}' for k, n in s['errors'].items())}); {paths['index']}, "
                       f"{paths['errors']}, {s['pngs']} pictures in {paths['pngs']}, {paths['json']}")


if __name__ == '__main__':
    from pmu.utils.errors import run_tool
    run_tool(main, 'tools/test.py')
