from mmengine.model import BaseModel


class ThreeModeModel(BaseModel):
    """An MMEngine model with the three modes of ``forward``.

    ``loss`` → dict of named losses, ``predict`` → data samples with ``pred_*``
    fields, ``tensor`` → raw outputs (export, benchmarks). Subclasses write
    ``loss``, ``predict`` and ``_forward``.
    """

    def forward(self, inputs: dict, data_samples=None, mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward(inputs, data_samples)
        raise RuntimeError(f"Invalid mode {mode!r}: use 'loss', 'predict' or 'tensor'")
