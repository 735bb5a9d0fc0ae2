"""Training and evaluation as functions: what ``tools/train.py`` and ``tools/test.py`` do once their
arguments are parsed, for code that runs them in its own process (``tools/study.py``).

Mistakes found before a runner is built (a config path, a key of ``cfg_options``, no data under the
data root, a work dir in use, a checkpoint of another task) raise the errors the tools report as one
line (:func:`pmu.utils.errors.user_errors`, plus :data:`TRAIN_ERRORS` for training).
"""
import contextlib
import os
import os.path as osp
from typing import Optional

# what tools/train.py reports as one line besides pmu.utils.errors.user_errors
TRAIN_ERRORS = ('pmu.engine.lock.WorkDirBusyError', )


def is_first_process() -> bool:
    """Whether this is the only or the first process of a run (``RANK``, ``SLURM_PROCID``,
    ``OMPI_COMM_WORLD_RANK`` unset or 0)."""
    return all(os.environ.get(k, '0') == '0' for k in ('RANK', 'SLURM_PROCID', 'OMPI_COMM_WORLD_RANK'))


def train(config: str, work_dir: Optional[str] = None, cfg_options: Optional[dict] = None, resume=None,
          amp: bool = False, compile: bool = False, tensorboard: bool = False, launcher: str = 'none') -> dict:
    """Train ``config`` as ``tools/train.py`` does.

    The config is loaded and completed with ``cfg_options`` (:func:`pmu.apis.config.load_run_config`), its
    data files are checked, and the first process holds the work dir's lock
    (:class:`pmu.engine.WorkDirLock`) while the runner trains.

    Args:
        config: config file path.
        work_dir: where logs and checkpoints go (default: the config's, else ``work_dirs/<config name>``).
        cfg_options: config keys to override, as ``--cfg-options`` gives them
            (``{'train_cfg.max_epochs': 3}``).
        resume: ``'auto'`` (or True): from the work dir's last checkpoint; a checkpoint path; None: no resuming.
        amp: mixed precision (bf16 on CPU).
        compile: ``torch.compile`` the model (CompileModelHook).
        tensorboard: also log to TensorBoard.
        launcher: ``'none'``, ``'pytorch'``, ``'slurm'`` or ``'mpi'``.

    Returns:
        ``dict(work_dir=..., checkpoint=...)``: the work dir and the checkpoint ``tools/test.py`` takes from
        it (the newest ``best_*.pth``, else the last one; None when there is none).
    """
    from pmu.engine import register_safe_globals
    register_safe_globals()  # MMEngine's load_from / resume through pmu's safe torch.load
    from pmu.apis.config import check_data_files, load_run_config, prepare_train_config
    from pmu.engine import WorkDirLock, build_runner
    from pmu.utils.setup_env import setup_monitoring

    cfg = load_run_config(config, work_dir=work_dir, cfg_options=cfg_options, launcher=launcher)
    check_data_files(cfg, ('train', 'val'))  # before the runner's first line
    # one training per work dir (the first process of a distributed run holds it for all)
    with WorkDirLock(cfg.work_dir) if is_first_process() else contextlib.nullcontext():
        prepare_train_config(cfg, amp=amp, resume='auto' if resume is True else resume, compile=compile)
        setup_monitoring(cfg, tensorboard=tensorboard)
        build_runner(cfg).train()
    return dict(work_dir=cfg.work_dir, checkpoint=_trained_checkpoint(cfg.work_dir))


def _trained_checkpoint(work_dir: str) -> Optional[str]:
    from pmu.utils.checkpoint import CheckpointNotFoundError, resolve_checkpoint
    try:
        return resolve_checkpoint(work_dir, prefer_best=True)
    except CheckpointNotFoundError:
        return None


def test(config: str, checkpoint: str, work_dir: Optional[str] = None, cfg_options: Optional[dict] = None,
         out: Optional[str] = None, non_strict: bool = False, show_dir: Optional[str] = None,
         show_limit: int = 300, launcher: str = 'none') -> dict:
    """Evaluate a checkpoint as ``tools/test.py`` does; returns the metrics (``{'ner/f1': 71.2, ...}``,
    tensors as floats).

    The checkpoint must match the config's model key for key and shape: one of another task stops
    before the runner is built (:class:`~pmu.utils.checkpoint.CheckpointMismatchError`), one of another
    model of the task when its weights are loaded; ``non_strict`` loads what matches and logs what does
    not. The file is read once.

    Args:
        config: config file path.
        checkpoint: checkpoint file, or a work dir: its newest ``best_*.pth``, else its last checkpoint.
        work_dir: where the evaluation log goes.
        cfg_options: config keys to override, as ``--cfg-options`` gives them.
        out: write the predictions there (CoNLL for NER, JSON lines for RE).
        non_strict: load a checkpoint that does not match the model.
        show_dir: write pages, pictures and counts of the errors on the evaluated split there.
        show_limit: with ``show_dir``: draw at most this many posts with an error (0: all).
        launcher: ``'none'``, ``'pytorch'``, ``'slurm'`` or ``'mpi'``.
    """
    from pmu.engine import build_runner, register_safe_globals
    register_safe_globals()  # MMEngine's load_from / resume through pmu's safe torch.load
    from mmengine.model import is_model_wrapper

    from pmu.apis.config import check_checkpoint_matches, check_data_files, load_run_config, prepare_test_config
    from pmu.utils.checkpoint import load_mapped_checkpoint, resolve_checkpoint

    checkpoint = resolve_checkpoint(checkpoint, prefer_best=True)
    cfg = load_run_config(config, work_dir=work_dir, cfg_options=cfg_options, launcher=launcher)
    # mistakes found before the runner's first line: no data, the weights of another task
    check_data_files(cfg, ('test', ))
    loaded = None if non_strict else check_checkpoint_matches(cfg, checkpoint)
    prepare_test_config(cfg, checkpoint=checkpoint, out=out)
    cfg.load_from = None  # loaded below, strictly unless non_strict
    runner = build_runner(cfg)
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    load_mapped_checkpoint(model, checkpoint, strict=not non_strict, logger=runner.logger, loaded=loaded)
    del loaded  # the weights are in the model now
    metrics = runner.test()
    metrics = {k: float(v) if hasattr(v, 'item') else v for k, v in metrics.items()}
    if show_dir:
        show_errors(runner, show_dir, show_limit, metrics)
    return metrics


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
