"""The data sample that travels from the dataset to the metric and visualizer."""
from mmengine.structures import BaseDataElement


class PMUDataSample(BaseDataElement):
    """One post (text + optional image) with its annotations and predictions.

    Metainfo (set once by the pipeline):
        ``words`` (list[str]), ``img_path`` (str or None), ``has_image`` (bool),
        ``word_ids`` (list[int]: index of each word's first sub-word, ``-1`` for a
        word cut off by truncation), ``sample_idx``.
    Data fields:
        MNER: ``gt_tags`` / ``pred_tags`` (list[str], one BIO tag per word).
        MRE: ``head``/``tail`` spans, ``gt_relation`` / ``pred_relation`` (str),
        ``pred_scores`` (Tensor over the relation inventory).
    """

    @property
    def num_words(self) -> int:
        return len(self.words)

    @property
    def num_truncated_words(self) -> int:
        return sum(1 for i in self.word_ids if i < 0)
