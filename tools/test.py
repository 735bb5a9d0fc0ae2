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

The evaluation itself is :func:`pmu.apis.runs.test`, which returns the metrics this tool prints as its
last line.
"""
import argparse
import json
import os

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
    from pmu.apis.runs import test

    metrics = test(args.config, args.checkpoint, work_dir=args.work_dir, cfg_options=args.cfg_options, out=args.out,
                   non_strict=args.non_strict, show_dir=args.show_dir, show_limit=args.show_limit,
                   launcher=args.launcher)
    print(json.dumps(metrics))


if __name__ == '__main__':
    from pmu.utils.errors import run_tool
    run_tool(main, 'tools/test.py')
