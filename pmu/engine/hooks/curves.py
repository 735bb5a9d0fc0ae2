import os.path as osp
import re
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop

from pmu.registry import HOOKS

Series = Tuple[List[float], List[float]]


def _headline(metric: str) -> bool:
    """Micro figures and retrieval recalls; per-type rows would crowd the plot."""
    return metric.count('/') == 1 and (
        metric.endswith(('precision', 'recall', 'f1', 'accuracy')) or 'R@' in metric)


def _natural(key: str):
    """Sort key putting R@5 before R@10."""
    return [int(t) if t.isdigit() else t for t in re.split(r'(\d+)', key)]


def _by_epoch(runner) -> bool:
    # the built loop only: runner.train_loop would build one from its config
    return not isinstance(runner._train_loop, IterBasedTrainLoop)


def smooth(x: Sequence[float], y: Sequence[float], points: int) -> Series:
    """A trailing moving average of ``y`` at about ``points`` evenly spaced positions.

    The window is the stride between two kept points (at least 5 values), so
    the kept averages cover the whole run without gaps.
    """
    y = np.asarray(y, dtype=float)
    stride = max(1, len(y) // points)
    window = max(5, stride)
    means = np.convolve(y, np.ones(window) / window, mode='valid')  # means[i]: y[i .. i+window-1]
    ends = np.arange(window - 1, len(y))
    keep = slice(None, None, stride)
    return [x[i] for i in ends[keep]], means[keep].tolist()


@HOOKS.register_module()
class CurvePlotHook(Hook):
    """Draws the training losses and validation metrics to ``<work_dir>/curves.png``.

    The figures are the runner's own: the losses the message hub holds for
    every iteration (``train/loss*``, also after ``--resume``, since the hub
    is saved in the checkpoint) and the metrics of each validation
    (``val/<metric>``). Redrawn after every validation and at the end of
    training, so a person can look at the run while it goes.

    Up to ``raw_points`` iterations every loss value is drawn with a marker;
    a longer run draws its raw values faint and, over them, a moving average
    at about ``raw_points`` positions (:func:`smooth`). What was drawn last
    is kept in :attr:`plotted`.

    Args:
        metrics: validation metrics to plot (default: the headline ones:
            micro precision/recall/F1, accuracy, retrieval R@K).
        raw_points: the most loss values drawn one by one.
        interval: unused, kept so that older configs still load.
    """

    priority = 'LOW'

    def __init__(self, metrics: Optional[Sequence[str]] = None, raw_points: int = 300,
                 interval: Optional[int] = None):
        self.metrics = metrics
        self.raw_points = raw_points
        self.plotted: Dict[str, Dict[str, dict]] = {}

    # the x position of each validation (epoch or iteration), resumed with the hub
    _STEPS = 'curves/val_steps'

    def after_val_epoch(self, runner, metrics=None):
        steps = list(runner.message_hub.get_info(self._STEPS, []))
        steps.append(runner.epoch if _by_epoch(runner) else runner.iter)
        runner.message_hub.update_info(self._STEPS, steps)
        self.plot(runner)

    def after_train(self, runner):
        self.plot(runner)

    def collect(self, runner) -> Dict[str, Dict[str, dict]]:
        """``{'loss': {key: series}, 'val': {metric: series}}`` from the message hub."""
        hub = runner.message_hub
        losses, val = {}, {}
        for key, buffer in hub.log_scalars.items():
            values = buffer.data[0]
            if key.startswith('train/loss') and len(values):
                y = [float(v) for v in values]
                x = list(range(1, len(y) + 1))  # one value per iteration since the start
                series = dict(x=x, y=y, smoothed=None)
                if len(y) > self.raw_points:
                    series['smoothed'] = smooth(x, y, self.raw_points)
                losses[key[len('train/'):]] = series
        parts = [k for k in losses if k != 'loss']
        if len(parts) == 1 and losses.get('loss', {}).get('y') == losses[parts[0]]['y']:
            del losses['loss']  # the total of a single loss is that loss
        steps = list(hub.get_info(self._STEPS, []))
        for key, buffer in hub.log_scalars.items():
            metric = key[len('val/'):]
            if not key.startswith('val/') or not (
                    metric in self.metrics if self.metrics is not None else _headline(metric)):
                continue
            y = [float(v) for v in buffer.data[0]]
            # one value per validation; steps start later when the hub predates this hook
            x = steps[-len(y):] if len(steps) >= len(y) else list(range(1, len(y) + 1))
            val[metric] = dict(x=list(x), y=y, smoothed=None)
        return dict(loss=losses, val=val)

    def plot(self, runner) -> Optional[str]:
        """Draw ``<work_dir>/curves.png``; returns its path (None where nothing is drawn)."""
        if not is_main_process():
            return None
        data = self.collect(runner)
        if not (data['loss'] or data['val']):
            return None
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
        fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(11, 4))
        colors = plt.rcParams['axes.prop_cycle'].by_key()['color']
        for i, (key, s) in enumerate(sorted(data['loss'].items(), key=lambda kv: _natural(kv[0]))):
            color = colors[i % len(colors)]
            if s['smoothed'] is None:
                ax_loss.plot(s['x'], s['y'], marker='o', markersize=3, linewidth=1, color=color,
                             label=key)
            else:
                ax_loss.plot(s['x'], s['y'], linewidth=0.5, alpha=0.25, color=color)
                sx, sy = s['smoothed']
                ax_loss.plot(sx, sy, marker='o', markersize=2, linewidth=1.2, color=color,
                             markevery=max(1, len(sx) // 50), label=f'{key} (moving average)')
        self._mark_epochs(runner, ax_loss, data['loss'])
        ax_loss.set(xlabel='iteration', ylabel='loss', title='training loss')
        for i, (key, s) in enumerate(sorted(data['val'].items(), key=lambda kv: _natural(kv[0]))):
            # equal metrics (at the start of a run, often all 0) stay distinguishable
            ax_val.plot(s['x'], s['y'], marker='osD^v<>'[i % 7], markersize=8 - i % 4,
                        label=key)
        by_epoch = _by_epoch(runner)
        ax_val.set(xlabel='epoch' if by_epoch else 'iteration', title='validation')
        from matplotlib.ticker import MaxNLocator
        for ax, series in ((ax_loss, data['loss']), (ax_val, data['val'])):
            xs = sorted({x for s in series.values() for x in s['x']})
            if 0 < len(xs) <= 12:
                ax.set_xticks(xs)  # a few iterations or epochs: each one
            else:
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        for ax in (ax_loss, ax_val):
            if ax.lines and ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=8)
            ax.grid(alpha=0.3)
        title = osp.basename(osp.normpath(runner.work_dir))
        loop = runner._train_loop
        if isinstance(loop, (EpochBasedTrainLoop, IterBasedTrainLoop)):
            title += f': iteration {runner.iter} of {loop.max_iters}'
            if by_epoch:
                title += f', epoch {runner.epoch} of {loop.max_epochs}'
        fig.suptitle(title, fontsize=9)
        fig.tight_layout()
        path = osp.join(runner.work_dir, 'curves.png')
        fig.savefig(path, dpi=100)
        plt.close(fig)
        self.plotted = data
        return path

    @staticmethod
    def _mark_epochs(runner, ax, losses):
        """Faint vertical lines at epoch ends, for epoch-based runs of a few epochs."""
        loop = runner._train_loop
        if not losses or not isinstance(loop, EpochBasedTrainLoop):
            return
        per_epoch = len(loop.dataloader)
        last = max(max(s['x']) for s in losses.values())
        ends = list(range(per_epoch, last + 1, per_epoch))
        if 0 < len(ends) <= 20:
            for end in ends:
                ax.axvline(end, color='grey', alpha=0.3, linewidth=0.8, linestyle='--')
