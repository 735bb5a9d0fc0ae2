"""Evaluate a checkpoint: ``python tools/test.py CONFIG CHECKPOINT [--out FILE]``."""
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

    cfg = load_tool_config(args)
    prepare_test_config(cfg, checkpoint=args.checkpoint, out=args.out)
    metrics = Runner.from_cfg(cfg).test()
    print(json.dumps({k: float(v) if hasattr(v, 'item') else v for k, v in metrics.items()}))


if __name__ == '__main__':
    main()
