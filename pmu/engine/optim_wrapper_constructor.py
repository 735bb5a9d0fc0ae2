"""The optimizer constructor that refuses ``paramwise_cfg`` entries that change nothing."""
import difflib

from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.optim import DefaultOptimWrapperConstructor

from pmu.registry import OPTIM_WRAPPER_CONSTRUCTORS


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class CheckedOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """MMEngine's default constructor, checking ``custom_keys`` (the constructor of pmu's schedules,
    :class:`pmu.engine.optim_wrapper.SummarizedOptimWrapperConstructor`, is this one with short logs).

    A key of ``paramwise_cfg.custom_keys`` applies to the parameters whose
    name contains it. A key that no parameter name contains (a misspelt
    ``'text_encodr'``, a module the model does not have) would leave the
    learning rates as they are without a word; here it stops the build with
    a ``KeyError`` naming the key and the closest module names. A key naming
    a module the model has without parameters, or a component the config
    leaves out (``visual_encoder=None`` of a text-only model, which shares
    its schedule with the multimodal one), is logged and allowed.
    """

    def __call__(self, model):
        custom = (self.paramwise_cfg or {}).get('custom_keys') or {}
        names = [name for name, _ in model.named_parameters()]
        unused = [key for key in custom if not any(key in name for name in names)]
        inner = model.module if is_model_wrapper(model) else model
        absent = [key for key in unused if getattr(inner, key.split('.')[0], 0) is None
                  or key in dict(inner.named_modules())]
        if absent:
            print_log(f'optim_wrapper.paramwise_cfg.custom_keys {absent}: no parameters in this model (a '
                      f'component it leaves out or one without parameters)', logger='current')
        unused = [key for key in unused if key not in absent]
        if unused:
            modules = sorted({'.'.join(n.split('.')[:i]) for n in names for i in range(1, 4)})
            hints = '; '.join(f"'{key}': closest module names {difflib.get_close_matches(key, modules, n=3)}"
                              for key in unused)
            raise KeyError(f'optim_wrapper.paramwise_cfg.custom_keys: {len(unused)} key(s) match no parameter of '
                           f'{type(model).__name__} and would change nothing: {hints}')
        return super().__call__(model)
