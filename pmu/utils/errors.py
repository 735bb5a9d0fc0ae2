"""Errors that several layers of pmu raise alike."""


class ConfigKeyError(KeyError):
    """A config key (an override of ``--cfg-options``, a ``prepare.*`` option) that nothing would read."""

    def __str__(self):
        return str(self.args[0])
