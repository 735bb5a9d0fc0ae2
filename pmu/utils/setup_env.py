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
