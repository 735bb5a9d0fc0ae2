"""Evaluate a checkpoint: ``python tools/test.py CONFIG CHECKPOINT [--out FILE] [--non-strict]``.

The checkpoint must match the config's model key for key and shape (a
checkpoint of another model, e.g. MRE given to MNER, stops with an error
naming the missing and unexpected key groups); ``--non-strict`` loads what
matches and logs what does not. Only the weights (``state_dict``) are read:
a checkpoint written by plain MMEngine (no pmu random states, its message hub
pickling HistoryBuffer's statistics functions) is evaluated like pmu's own.
A checkpoint whose weights hold NaN or infinity is refused
(``NonFiniteCheckpointError`` naming the first such tensors; no metrics).
"""
import argparse
import json
import os

from mmengine.config import DictAction
from mmengine.runner import Runner


def parse_args():
    parser = argparse.ArgumentParser(description='Evaluate a pmu model')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where the evaluation log goes')
    parser.add_argument(
        '--non-strict', action='store_true',
        help='load a checkpoint that does not match the model (the log names what was missing)')
    parser.add_argument(
        '--out', help='write predictions: CoNLL (word, gold, predicted) for NER, '
        'one JSON line per instance for RE')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, help='override config keys')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main():
    args = parse_args()
    import pmu.engine  # noqa: F401  (safe loading of MMEngine checkpoints)
    from pmu.apis.config import load_tool_config, prepare_test_config

    from mmengine.model import is_model_wrapper
    from pmu.utils.checkpoint import load_mapped_checkpoint

    cfg = load_tool_config(args)
    prepare_test_config(cfg, checkpoint=args.checkpoint, out=args.out)
    cfg.load_from = None  # loaded below, strictly unless --non-strict
    runner = Runner.from_cfg(cfg)
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    load_mapped_checkpoint(model, args.checkpoint, strict=not args.non_strict, logger=runner.logger)
    metrics = runner.test()
    print(json.dumps({k: float(v) if hasattr(v, 'item') else v for k, v in metrics.items()}))


if __name__ == '__main__':
    main()
