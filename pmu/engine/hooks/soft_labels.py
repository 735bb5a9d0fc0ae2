"""Before the student trains, the teacher labels its training images (:class:`SoftPromptLabeler`)."""
import os.path as osp
from typing import Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from pmu.pseudo_labels.soft_labeler import SoftPromptLabeler
from pmu.registry import HOOKS


@HOOKS.register_module()
class SoftLabelHook(Hook):
    """Before training: the teacher labels every training image for COE and CIR.

    The labeler is the student's (:meth:`SoftPromptLabeler.for_student`: its
    vocabularies and ``pseudo_labels`` settings); its labels (cached) go to the
    student's ``set_soft_labels``, its summary to
    ``<work_dir>/soft_labels/summary.json``. A student with
    ``label_source='online'`` gets the frozen teacher and its prompt features
    instead (``set_online_teacher``): it labels each step's augmented view
    itself, and no image is labelled here.

    Args:
        teacher_config: the teacher's config file.
        teacher_checkpoint: its checkpoint, or its work dir (``last_checkpoint``).
        image_size: ``(w, h)`` of the teacher's input.
        batch_size: images per teacher forward.
        cache_dir: where labels and prompt features are cached (default
            ``<work_dir>/soft_labels``); runs may share one, entries are keyed
            by everything they depend on.
    """

    priority = 'VERY_HIGH'

    def __init__(self, teacher_config: str, teacher_checkpoint: str, image_size=(224, 224), batch_size: int = 32,
                 cache_dir: Optional[str] = None):
        self.teacher_config = teacher_config
        self.teacher_checkpoint = teacher_checkpoint
        self.image_size = tuple(image_size)
        self.batch_size = batch_size
        self.cache_dir = cache_dir

    def before_train(self, runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if not getattr(model, 'needs_soft_labels', False):
            return
        summary_dir = osp.join(runner.work_dir, 'soft_labels')
        labeler = SoftPromptLabeler.for_student(
            model, self.teacher_config, self.teacher_checkpoint, image_size=self.image_size,
            batch_size=self.batch_size, cache_dir=self.cache_dir or summary_dir, summary_dir=summary_dir)
        if getattr(model, 'label_source', 'offline') == 'online':
            model.set_online_teacher(**labeler.online_teacher())
        else:
            model.set_soft_labels(**labeler.label(runner.train_dataloader.dataset))
