import datetime

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
