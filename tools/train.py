"""Train a pmu model: ``python tools/train.py CONFIG [--work-dir DIR] [--resume] ...``.

Mistakes (a config path, a key of ``--cfg-options``, no data under the data root, a work dir in use) end in
one line, ``tools/train.py: error: ...``, before the runner is built (``PMU_DEBUG=1`` or ``--debug``: the
traceback).
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


def is_first_process() -> bool:
    return all(os.environ.get(k, '0') == '0' for k in ('RANK', 'SLURM_PROCID', 'OMPI_COMM_WORLD_RANK'))


def main():
    args = parse_args()
    import contextlib

    from pmu.engine import register_safe_globals
    register_safe_globals()  # MMEngine's load_from / --resume through pmu's safe torch.load
    from pmu.apis.config import check_data_files, load_tool_config, prepare_train_config
    from pmu.engine import WorkDirLock, build_runner
    from pmu.utils.setup_env import setup_monitoring

    signal.signal(signal.SIGTERM, stop_on_sigterm)
    cfg = load_tool_config(args)
    check_data_files(cfg, ('train', 'val'))  # before the runner's first line
    # one training per work dir (the first process of a distributed run holds it for all)
    with WorkDirLock(cfg.work_dir) if is_first_process() else contextlib.nullcontext():
        prepare_train_config(cfg, amp=args.amp, resume=args.resume, compile=args.compile)
        setup_monitoring(cfg, tensorboard=args.tensorboard)
        build_runner(cfg).train()


if __name__ == '__main__':
    from pmu.utils.errors import run_tool
    run_tool(main, 'tools/train.py', extra=('pmu.engine.lock.WorkDirBusyError', ))
