import datetime
import logging
import os

from mmengine.registry import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every pmu module that registers something, and make ``pmu`` the default scope.

    The runner does this from ``default_scope = 'pmu'`` in the config; code that
    builds datasets or models by hand (notebooks, tests, the inferencer) calls
    this first.
    """
    import pmu.datasets  # noqa: F401
    import pmu.engine  # noqa: F401
    import pmu.evaluation  # noqa: F401
    import pmu.models  # noqa: F401
    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    if current is None or current.scope_name != 'pmu':
        # a fresh instance name each time, as MMDetection does
        DefaultScope.get_instance(
            f'pmu-{datetime.datetime.now().strftime("%Y%m%d-%H%M%S-%f")}', scope_name='pmu')


TENSORBOARD_HINT = ("pip install -e '.[tensorboard]'  (or pip install 'tensorboard>=2.10')")


def setup_monitoring(cfg, tensorboard: bool = False):
    """What a training run logs and draws, set on its config in place.

    - ``tensorboard=True`` adds MMEngine's ``TensorboardVisBackend`` to the
      visualizer, beside the local one (``tools/train.py --tensorboard``).

    A TensorBoard backend, from the flag or from the config, needs the
    ``tensorboard`` package; without it this stops with the command that
    installs it, before anything is built.
    """
    visualizer = cfg.get('visualizer')
    if tensorboard:
        if visualizer is None:
            visualizer = cfg.visualizer = dict(type='Visualizer', vis_backends=[])
        backends = visualizer.setdefault('vis_backends', [])
        if not any(b.get('type') == 'TensorboardVisBackend' for b in backends):
            backends.append(dict(type='TensorboardVisBackend'))
    backends = (visualizer or {}).get('vis_backends') or []
    if any(b.get('type') == 'TensorboardVisBackend' for b in backends):
        import importlib.util
        if importlib.util.find_spec('tensorboard') is None:
            raise SystemExit(
                'TensorBoard logging (--tensorboard, or a TensorboardVisBackend in '
                "the config's visualizer.vis_backends) needs the tensorboard package: "
                + TENSORBOARD_HINT)
    return cfg


# MMEngine's messages a person need not read on the console: they stay in the log file
# (<work_dir>/<timestamp>/<timestamp>.log). Matched at the start of the message.
FILE_ONLY_STARTS = (
    'Config:\n',  # the whole config, also dumped to <work_dir>/<config name>.py
    'Hooks will be executed in the following order',
    'Distributed training is not used',
    'Checkpoints will be saved to',  # the closing summary names them
    'Exp name: ',
    'Saving checkpoint at',
    # per-iteration validation/test lines and the full metric line; the readable lines of
    # pmu's ReadableLoggerHook and EvalProgressHook's progress stand for them on the console
    'Epoch(val) [', 'Epoch(test) [', 'Iter(val) [', 'Iter(test) [',
    '"FileClient" will be deprecated', '"HardDiskBackend" is the alias',
    'relation extraction on ',  # the per-relation table; the readable lines give the headline
    'Results has been saved to',
)
# ... matched anywhere in the message
FILE_ONLY_PARTS = (
    '\nSystem environment:',
    'The value is the same before and after calling `init_weights`',
    ': conlleval protocol (',  # which F1 is which, repeated at every validation
)


def verbose_console() -> bool:
    """Whether the console shows everything the log file holds (``PMU_VERBOSE=1``)."""
    return os.environ.get('PMU_VERBOSE', '').strip().lower() not in ('', '0', 'false', 'no')


class ConsoleFilter(logging.Filter):
    """Keeps MMEngine's dumps and chatter off the console; the log file still gets them.

    Installed on the console handler of the runner's
    :class:`~mmengine.logging.MMLogger` by :class:`pmu.engine.QuietConsoleRunner`.
    It drops records below ERROR that match :data:`FILE_ONLY_STARTS` or :data:`FILE_ONLY_PARTS`, and any record logged
    with ``extra={'console': False}``. Everything else (pmu's dataset
    summaries, warnings, errors, progress, metrics) passes. A handler at the
    DEBUG level (``log_level = 'DEBUG'`` in the config) lets everything pass.
    """

    def __init__(self, handler: logging.Handler):
        super().__init__()
        self.handler = handler

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR or self.handler.level <= logging.DEBUG:
            return True
        if getattr(record, 'console', True) is False:
            return False
        message = record.getMessage()
        return not (message.startswith(FILE_ONLY_STARTS) or any(p in message for p in FILE_ONLY_PARTS))


def _console_handlers(logger) -> list:
    # MMLogger's console handler; its file handler is a FileHandler (a subclass)
    return [h for h in logger.handlers if type(h) is logging.StreamHandler]


def add_console_filter(logger) -> None:
    """Puts a :class:`ConsoleFilter` on ``logger``'s console handlers (once each)."""
    for handler in _console_handlers(logger):
        if not any(isinstance(f, ConsoleFilter) for f in handler.filters):
            handler.addFilter(ConsoleFilter(handler))
