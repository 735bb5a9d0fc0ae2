"""The contract of every pmu model: MMEngine's ``BaseModel`` with three modes."""
from abc import ABCMeta, abstractmethod
from collections import Counter
from typing import List, Optional

from mmengine.dist import master_only
from mmengine.logging import MMLogger
from mmengine.model import BaseModel


class ThreeModeModel(BaseModel, metaclass=ABCMeta):
    """An MMEngine model with the three modes of ``forward``.

    ``loss`` → dict of named losses (the runner sums the ``loss*`` entries and
    logs every entry), ``predict`` → the data samples with ``pred_*`` fields,
    ``tensor`` → raw outputs (export, benchmarks). Subclasses write the four
    abstract methods; predictions go into the samples through
    :meth:`add_pred_to_datasample` only, so every task fills its fields one way.
    """

    @master_only
    def _dump_init_info(self):
        """How the parameters were initialised, one line per top-level module and kind of
        initialisation (MMEngine writes three lines per parameter)."""
        groups = Counter()
        for name, param in self.named_parameters():
            info = getattr(self, '_params_init_info', {}).get(param, {}).get('init_info', 'unknown')
            groups[(name.split('.')[0], ' '.join(str(info).split())[:120])] += 1
        logger = MMLogger.get_current_instance()
        for (module, info), n in groups.items():
            logger.info(f'init: {module}.* ({n} params): {info}')

    def forward(self, inputs: dict, data_samples=None, mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward(inputs, data_samples)
        raise RuntimeError(f"Invalid mode {mode!r}: use 'loss', 'predict' or 'tensor'")

    @abstractmethod
    def extract_feat(self, inputs: dict):
        """The features the heads read (fused states for the task models)."""

    @abstractmethod
    def loss(self, inputs: dict, data_samples: list) -> dict:
        """A dict of named losses (``loss_*``) and figures to log."""

    @abstractmethod
    def predict(self, inputs: dict, data_samples: list) -> list:
        """The data samples with their ``pred_*`` fields set (:meth:`add_pred_to_datasample`)."""

    @abstractmethod
    def _forward(self, inputs: dict, data_samples: Optional[list] = None):
        """Raw head outputs, no post-processing."""

    @staticmethod
    def add_pred_to_datasample(data_samples: List, **fields) -> List:
        """Write per-sample predictions: ``fields`` maps a ``pred_*`` name to one value per sample."""
        for name, values in fields.items():
            if not name.startswith('pred_'):
                raise ValueError(f'prediction fields start with pred_, got {name!r}')
            if len(values) != len(data_samples):
                raise ValueError(f'{name}: {len(values)} values for {len(data_samples)} samples')
            for sample, value in zip(data_samples, values):
                sample.set_field(value, name)
        return data_samples
