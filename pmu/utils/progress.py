"""Progress of a long loop: a bar on a terminal, a few log lines everywhere else."""
import sys
import time
from datetime import timedelta
from typing import Optional

from mmengine.logging import MMLogger


def _clock(seconds: float) -> str:
    return str(timedelta(seconds=int(seconds)))


class LoopProgress:
    """Reports ``done / total`` of a loop a person may be waiting on.

    On a terminal (stderr is a tty) it draws a tqdm bar, which never reaches
    the log file, and logs one line when the loop ends. Otherwise (a log file,
    ``nohup``, CI) it logs a line each time another ``every`` of the loop is
    done, e.g. ``val [120/603] 20%, 0:00:41 elapsed, about 0:02:44 left``,
    so ten lines for a whole loop whatever its length, and fewer for a fast
    one (``min_interval``).

    Args:
        total: number of steps.
        desc: what the loop is, the first word of each line (``val``, ``test``,
            ``teacher labels``).
        unit: what a step is (``batch``, ``image``).
        every: fraction of the loop between two log lines.
        min_total: loops shorter than this report nothing (they end before a
            person would wonder).
        min_interval: seconds between two log lines at least (the last line
            comes in any case).
        tty: draw a bar instead of logging; default: whether stderr is a tty.
        initial: steps already done (a resumed loop counts from where the stopped one was).
        logger: where the lines go; default: the current ``MMLogger``.
        enabled: ``False`` reports nothing (e.g. on all but the first process).

    Used as a context manager, it closes (logs the last line) on leaving.
    """

    def __init__(self, total: int, desc: str, unit: str = 'batch', every: float = 0.1,
                 min_total: int = 5, min_interval: float = 2.0, tty: Optional[bool] = None,
                 initial: int = 0, logger=None, enabled: bool = True):
        self.total = int(total)
        self.logger = logger
        self.desc = desc
        self.unit = unit
        self.every = every
        self.min_interval = min_interval
        self.enabled = enabled and self.total >= min_total
        self.tty = sys.stderr.isatty() if tty is None else tty
        self.done = self.initial = min(int(initial), self.total)
        self.start = self._last_line = time.monotonic()
        self._next_line = 1
        self._bar = None
        if self.enabled and self.tty:
            from tqdm import tqdm
            self._bar = tqdm(total=self.total, initial=self.done, desc=desc, unit=unit, leave=False,
                             dynamic_ncols=True)

    def line(self) -> str:
        """The log line for the current state."""
        elapsed = time.monotonic() - self.start
        text = f'{self.desc} [{self.done}/{self.total}] {100 * self.done // max(self.total, 1)}%, ' \
               f'{_clock(elapsed)} elapsed'
        if self.initial < self.done < self.total:
            rate = (self.done - self.initial) / max(elapsed, 1e-9)
            text += f', about {_clock((self.total - self.done) / rate)} left'
        return text

    def update(self, n: int = 1) -> None:
        if not self.enabled:
            return
        self.done = min(self.done + n, self.total)
        if self._bar is not None:
            self._bar.update(n)
            return
        # the share of the loop done, in steps of `every`
        reached = int(self.done / self.total / self.every + 1e-9)
        if reached >= self._next_line and self.done < self.total:
            self._next_line = reached + 1
            now = time.monotonic()
            if now - self._last_line >= self.min_interval:
                self._last_line = now
                self._log().info(self.line())

    def _log(self):
        return self.logger or MMLogger.get_current_instance()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def iterate(self, items):
        """Yields ``items``, counting each one as done when the loop asks for the next."""
        for item in items:
            yield item
            self.update()

    def close(self) -> None:
        """Ends the bar and logs the final line (``[603/603] 100%, 0:03:25 elapsed``), if a step was done."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self.enabled and self.done > self.initial:
            self._log().info(self.line())
        self.enabled = False


def track(items, desc: str, total: Optional[int] = None, unit: str = 'item', enabled: bool = True, **kwargs):
    """Yields ``items`` while a :class:`LoopProgress` reports them: the one way pmu shows a loop's progress.

    A drop-in for ``tqdm(items, desc=..., unit=..., disable=not enabled)``
    that is safe in a pipe or a log file: a bar on a terminal, a line every
    tenth of the loop otherwise, and a last line when the loop ends.
    ``total`` defaults to ``len(items)``; ``kwargs`` go to
    :class:`LoopProgress` (``every``, ``min_total``, ``min_interval``).
    """
    if not enabled:
        yield from items
        return
    progress = LoopProgress(len(items) if total is None else total, desc, unit=unit, **kwargs)
    try:
        yield from progress.iterate(items)
    finally:
        progress.close()
