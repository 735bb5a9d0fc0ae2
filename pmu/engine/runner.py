"""pmu's runner: MMEngine's, with a console a person can read."""
from mmengine.config import Config
from mmengine.runner import Runner

from pmu.registry import RUNNERS
from pmu.utils.setup_env import add_console_filter, verbose_console


@RUNNERS.register_module()
class QuietConsoleRunner(Runner):
    """MMEngine's ``Runner`` whose console leaves out the framework's dumps; the log file keeps all.

    The runner logs its environment report and the whole config in ``__init__``
    right after it builds its logger, before any hook exists; this runner puts
    a :class:`~pmu.utils.setup_env.ConsoleFilter` on that logger's console
    handler as it is built, so those dumps, the hook table and MMEngine's
    chatter go to ``<work_dir>/<timestamp>/<timestamp>.log`` only
    (docs/monitoring.md, "The console"). ``PMU_VERBOSE=1`` in the environment
    or ``log_level = 'DEBUG'`` in the config leaves the console as MMEngine has
    it. pmu's configs choose it with ``runner_type = 'QuietConsoleRunner'``
    (``configs/_base_/default_runtime.py``); :func:`build_runner` builds it.
    """

    def build_logger(self, log_level='INFO', log_file=None, **kwargs):
        logger = super().build_logger(log_level=log_level, log_file=log_file, **kwargs)
        if not verbose_console():
            add_console_filter(logger)
        return logger


def build_runner(cfg: Config) -> Runner:
    """The runner a config names in ``runner_type`` (MMEngine's ``Runner`` when it names none), as
    MMDetection's tools build it."""
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)
