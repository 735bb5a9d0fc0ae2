"""Train a pmu model: ``python tools/train.py CONFIG [--work-dir DIR] [--resume] ...``.

Mistakes (a config path, a key of ``--cfg-options``, no data under the data root, a work dir in use) end in
one line, ``tools/train.py: error: ...``, before the runner is built (``PMU_DEBUG=1`` or ``--debug``: the
traceback).

The training itself is :func:`pmu.apis.runs.train`, which code (``tools/study.py``) may call in its own process.
"""
import argparse
import os
import signal
import sys

from mmengine.config import DictAction


def parse_args():
    parser = argparse.ArgumentParser(description='Train a pmu model')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--work-dir', help='where logs and checkpoints go '
                        '(default: work_dirs/<config name>)')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from the latest checkpoint in the work dir, or from the given one')
    parser.add_argument('--amp', action='store_true', help='mixed precision (bf16 on CPU)')
    parser.add_argument('--compile', action='store_true',
                        help='torch.compile the model (CompileModelHook; pays on a GPU)')
    parser.add_argument(
        '--tensorboard', action='store_true',
        help="also log to TensorBoard (<work_dir>/<timestamp>/vis_data/events.*); "
        "needs pip install -e '.[tensorboard]'")
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config keys, e.g. train_cfg.max_epochs=3 model.head.dropout=0.2')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
        help='job launcher; use pytorch under torchrun')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    parser.add_argument('--debug', action='store_true',
                        help='show the traceback of a mistake (a config path, a key, the data root), as PMU_DEBUG=1')
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def stop_on_sigterm(signum, frame):
    """SIGTERM (a scheduler's preemption, ``kill``): stop like Ctrl-C, so that the checkpoint being
    written is left out whole (its temporary file removed) and the work dir's lock is released."""
    print(f'tools/train.py: stopped by signal {signum}; continue with --resume', file=sys.stderr, flush=True)
    raise SystemExit(128 + signum)


def main():
    args = parse_args()
    from pmu.apis.runs import train

    signal.signal(signal.SIGTERM, stop_on_sigterm)
    train(args.config, work_dir=args.work_dir, cfg_options=args.cfg_options, resume=args.resume, amp=args.amp,
          compile=args.compile, tensorboard=args.tensorboard, launcher=args.launcher)


if __name__ == '__main__':
    from pmu.utils.errors import run_tool
    run_tool(main, 'tools/train.py', extra=('pmu.engine.lock.WorkDirBusyError', ))
