"""The data sample that travels from the dataset to the model, the metric and the visualizer."""
from mmengine.structures import BaseDataElement


class PMUDataSample(BaseDataElement):
    """One post (text + optional image) or one image–caption pair, with annotations and predictions.

    ``PackMultimodalInputs`` fills it from the pipeline's results (``meta_keys``
    → metainfo, ``data_keys`` → data fields); the model adds ``pred_*`` fields
    through ``ThreeModeModel.add_pred_to_datasample``.

    Metainfo, every task:
        ``sample_idx`` (int): index in the dataset. ``img_path`` (str or None)
        and ``has_image`` (bool): ``False`` when the image is missing or does
        not load (the model then runs text-only). ``ori_shape`` ((h, w)): the
        image as loaded. ``words`` (list[str]): the text as words (MRE: with
        the entity markers inserted). ``word_ids`` (list[int]): each word's
        first sub-word, ``-1`` for a word cut off by truncation.
    Metainfo, MNER / MRE:
        ``img_id`` (str): the dataset's image id. MRE only: ``tokens``
        (list[str], the post as given), ``head_name``/``tail_name`` (str),
        ``head_marker``/``tail_marker`` (int: word index of ``<e1>``/``<e2>``),
        ``num_cropped_words`` (int: words outside the window kept around the
        entities).
    Metainfo, pre-training:
        ``pair_id`` (str), ``caption`` (str), ``match`` (bool: the caption
        belongs to the image), ``img_shape`` ((h, w) after augmentation),
        ``flip`` (bool), ``crop_coverage`` (float: share of the original image
        the crop keeps).
    Data fields:
        MNER: ``gt_tags`` / ``pred_tags`` (list[str], one BIO tag per word).
        MRE: ``head``/``tail`` (word spans ``(start, end)`` of the post as
        given), ``gt_relation`` / ``pred_relation`` (str), ``pred_scores``
        (Tensor: probabilities over the relation inventory).
        Pre-training: ``gt_boxes`` (ndarray ``[K, 4]``, x1 y1 x2 y2 in input
        pixels), ``gt_boxes_valid`` (bool ``[K]``), ``gt_labels`` (detector
        class names), ``pred_image_feat`` / ``pred_text_feat`` (Tensor
        ``[E]``: normalised ITC features).

    Example:
        >>> s = PMUDataSample(metainfo=dict(words=['Kevin', 'Durant', 'wins'], word_ids=[1, 2, -1]))
        >>> s.gt_tags = ['B-PER', 'I-PER', 'O']
        >>> s.num_words, s.num_truncated_words
        (3, 1)
    """

    @property
    def num_words(self) -> int:
        return len(self.words)

    @property
    def num_truncated_words(self) -> int:
        return sum(1 for i in self.word_ids if i < 0)
