import os.path as osp
from collections import defaultdict

from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from pmu.registry import HOOKS


@HOOKS.register_module()
class CurvePlotHook(Hook):
    """Draws the training losses and validation metrics to ``<log_dir>/curves.png``.

    Updated after every validation and at the end of training, so a person
    can look at the run while it goes.

    Args:
        interval: record the training losses every ``interval`` iterations.
        metrics: validation metric names to plot (default: all scalar ones).
    """

    priority = 'LOW'

    def __init__(self, interval: int = 10, metrics=None):
        self.interval = interval
        self.metrics = metrics
        self.losses = defaultdict(list)
        self.val = defaultdict(list)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if outputs and self.every_n_train_iters(runner, self.interval):
            for k, v in outputs.items():
                if k.startswith('loss'):
                    value = v.detach() if hasattr(v, 'detach') else v
                    self.losses[k].append((runner.iter + 1, float(value)))

    def after_val_epoch(self, runner, metrics=None):
        for k, v in (metrics or {}).items():
            if (self.metrics is None or k in self.metrics) and isinstance(v, (int, float)):
                self.val[k].append((runner.epoch, float(v)))
        self._plot(runner)

    def after_train(self, runner):
        self._plot(runner)

    def _plot(self, runner):
        if not is_main_process() or not (self.losses or self.val):
            return
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        for k, pts in self.losses.items():
            axes[0].plot(*zip(*pts), label=k)
        axes[0].set(xlabel='iteration', ylabel='loss', title='training loss')
        for k, pts in self.val.items():
            # micro figures and retrieval recalls; per-type rows would crowd the plot
            headline = k.endswith(('precision', 'recall', 'f1', 'accuracy')) or 'R@' in k
            if headline and k.count('/') == 1:
                axes[1].plot(*zip(*pts), marker='o', label=k)
        axes[1].set(xlabel='epoch', title='validation')
        for ax in axes:
            if ax.lines:
                ax.legend(fontsize=8)
            ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(osp.join(runner.log_dir, 'curves.png'), dpi=100)
        plt.close(fig)
