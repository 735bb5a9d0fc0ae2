"""Run a multi-seed study: ``python tools/study.py STUDY_CONFIG [--workers N] [--gpus 0,1]``.

Trains and evaluates every (row, seed) of the study config with tools/train.py
and tools/test.py (in this process with one worker, else as subprocesses), skips
finished runs, resumes killed ones, and writes WORK_DIR/study.json and
WORK_DIR/study.md (see docs/studies.md).
"""
import argparse
import os.path as osp
import sys


def parse_args():
    parser = argparse.ArgumentParser(description='Run a multi-seed study (docs/studies.md)')
    parser.add_argument('study', help='study config file (see configs/studies/README.md)')
    parser.add_argument('--workers', type=int, default=1,
                        help='runs at a time (each gets OMP_NUM_THREADS=cores/N unless set)')
    parser.add_argument('--gpus', help='GPU ids assigned round-robin to the workers, e.g. 0,1 '
                        '(several workers may share one: --gpus 0 --workers 4)')
    parser.add_argument('--work-dir', help="where runs and results go, instead of the study config's "
                        'work_dir (default work_dirs/studies/<study file name>)')
    parser.add_argument('--only', help='comma-separated rows (or before steps) to run')
    parser.add_argument('--seeds', help="comma-separated seeds to run of the rows' seeds, e.g. 0 "
                        '(every row once first, more seeds later)')
    parser.add_argument('--reevaluate', action='store_true',
                        help='evaluate finished runs again with the current code (their training is '
                        'kept; the previous metrics stay in result.json under "previous")')
    parser.add_argument('--dry-run', action='store_true',
                        help='print what each run would execute next, run nothing')
    parser.add_argument('--summarise', '--summarize', action='store_true',
                        help='only rebuild study.json and study.md from the result.json files')
    parser.add_argument('--python', default=sys.executable,
                        help='interpreter for tools/train.py and tools/test.py (another one: subprocesses)')
    parser.add_argument('--subprocess', action='store_true',
                        help='run tools/train.py and tools/test.py as subprocesses also with one worker '
                        '(default there: in this process)')
    return parser.parse_args()


def _seeds(text):
    if not text:
        return None
    try:
        return [int(s) for s in text.split(',') if s.strip()]
    except ValueError:
        raise ValueError(f'--seeds {text!r}: give whole numbers separated by commas, e.g. 0,1') from None


def main():
    args = parse_args()
    from pmu.apis.study import StudyRunner, check_only, check_seeds, load_study, write_summary

    only = [n.strip() for n in args.only.split(',') if n.strip()] if args.only else None
    try:
        seeds = _seeds(args.seeds)
        study = load_study(args.study)
        if args.work_dir:
            study.work_dir = args.work_dir
        check_only(study, only)
        check_seeds(study, only, seeds)
    except ValueError as e:  # a mistake in the study config: the message names it
        sys.exit(f'[study] {e}')
    if args.summarise:
        summary = write_summary(study)
        counts = summary['counts']
        print(f'[study] {counts["ok"]}/{counts["total"]} runs finished, {counts["failed"]} '
              f'failed, {counts["pending"]} pending: {osp.join(study.work_dir, "study.md")}')
        return 0
    gpus = [g.strip() for g in args.gpus.split(',') if g.strip()] if args.gpus else None
    runner = StudyRunner(study, workers=args.workers, gpus=gpus, python=args.python,
                         tools_dir=osp.dirname(osp.abspath(__file__)), reevaluate=args.reevaluate,
                         in_process=False if args.subprocess else None)
    if args.dry_run:
        runner.dry_run(only, seeds)
        return 0
    runner.run(only, seeds)
    if runner.failures:
        print(f'[study] failed: {", ".join(runner.failures)}', file=sys.stderr)
    return 1 if runner.failures else 0


if __name__ == '__main__':
    sys.exit(main())
