"""Say in the log when a loop runs on part of its dataset."""
import logging

from mmengine.dataset import BaseDataset
from mmengine.hooks import Hook
from mmengine.logging import MMLogger
from mmengine.runner import BaseLoop

from pmu.registry import HOOKS

_VERBS = {'train': 'training', 'val': 'validating', 'test': 'testing'}


class _Silence(logging.Filter):
    """Drops the records of a dataset's second reading (it already logged its first)."""

    def filter(self, record):
        return record.levelno >= logging.ERROR


def _inner(dataset):
    """The dataset a wrapper (RepeatDataset, ClassBalancedDataset) reads from."""
    while not isinstance(dataset, BaseDataset) and hasattr(dataset, 'dataset'):
        dataset = dataset.dataset
    return dataset


def full_size(dataset: BaseDataset) -> int:
    """How many samples ``dataset`` has without its ``indices``.

    MMEngine keeps only the subset once it is cut, so the data list is read
    again, with the dataset's own log lines (counts, repairs) held back.
    """
    logger = MMLogger.get_current_instance()
    silence = _Silence()
    logger.addFilter(silence)
    try:
        return len(dataset.load_data_list())
    finally:
        logger.removeFilter(silence)


def subset_message(split: str, dataset) -> str:
    """``'training on 32 of 3373 samples (dataset.indices)'``, or ``''`` for a whole dataset."""
    dataset = _inner(dataset)
    if not isinstance(dataset, BaseDataset) or getattr(dataset, '_indices', None) is None:
        return ''
    return (f'{_VERBS.get(split, split)} on {len(dataset)} of {full_size(dataset)} samples '
            '(dataset.indices)')


@HOOKS.register_module()
class DataSubsetHook(Hook):
    """Logs, for each loop of the run, whether its dataset is cut by ``indices``.

    ``--cfg-options train_dataloader.dataset.indices=32`` gives
    ``training on 32 of 3373 samples (dataset.indices)``, so a log (and a
    score) from a short check cannot pass for a full run.
    """

    priority = 'VERY_LOW'

    def before_run(self, runner) -> None:
        # the loops are built before before_run: train and val by train(), test by test()
        for split, loop in (('train', runner._train_loop), ('val', runner._val_loop),
                            ('test', runner._test_loop)):
            if not isinstance(loop, BaseLoop):
                continue
            message = subset_message(split, loop.dataloader.dataset)
            if message:
                runner.logger.warning(message)
