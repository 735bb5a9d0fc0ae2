import doctest

import numpy as np
import pytest
import torch

import pmu.structures.bio
import pmu.structures.data_sample
from pmu.datasets.transforms import PackMultimodalInputs
from pmu.structures import PMUDataSample, entity_spans


def test_documented_example_runs():
    assert doctest.testmod(pmu.structures.data_sample).failed == 0


def test_entity_spans_strict_iob2():
    assert entity_spans(['B-PER', 'I-PER', 'O', 'I-LOC', 'B-ORG']) == [('PER', 0, 2), ('ORG', 4, 5)]


def _mre_results():
    return dict(input_ids=[101, 7, 8, 102], img=None, sample_idx=3, img_id='x.jpg', img_path=None,
                has_image=False, words=['<e1>', 'UN', '</e1>'], word_ids=[1, 2, -1], gt_relation='/per/per/peer',
                head=(1, 2), tail=(2, 3))


def test_typed_fields_behave_as_plain_fields():
    """What the packer and the model set reads back, lists under its own name in keys/to_dict, and
    survives clone, pop and del as a plain BaseDataElement field does."""
    sample = PackMultimodalInputs()(_mre_results())['data_samples']
    assert sample.gt_relation == '/per/per/peer' and sample.head == (1, 2)
    sample.pred_scores = torch.tensor([0.2, 0.8])
    sample.set_field('/per/per/peer', 'pred_relation')  # as add_pred_to_datasample does
    assert sorted(sample.keys()) == ['gt_relation', 'head', 'pred_relation', 'pred_scores', 'tail']
    d = sample.to_dict()
    assert d['gt_relation'] == '/per/per/peer' and d['tail'] == (2, 3) and d['sample_idx'] == 3
    assert not any(k.startswith('_') for k in d)
    assert 'pred_relation' in sample and sample.get('pred_tags') is None
    clone = sample.clone()
    assert clone.pred_relation == '/per/per/peer' and torch.equal(clone.pred_scores, sample.pred_scores)
    assert sample.pop('pred_relation') == '/per/per/peer'
    assert 'pred_relation' not in sample and sample.get('pred_relation') is None
    del sample.head
    assert 'head' not in sample.keys() and sample.get('head') is None
    assert sample.cpu().gt_relation == '/per/per/peer'


@pytest.mark.parametrize('name, value, message', [
    ('gt_relation', ['/per/per/peer'], "gt_relation must be a str (a relation of rel2id.json), got list"),
    ('pred_relation', 5, 'pred_relation must be a str'),
    ('gt_tags', 'B-PER I-PER', 'gt_tags must be a list of BIO tags (str), one per word, got str'),
    ('pred_tags', [0, 1], 'pred_tags must be a list of BIO tags'),
    ('head', (1, 2, 3), 'head must be a word span (start, end) of two ints, got tuple (1, 2, 3)'),
    ('tail', ('1', '2'), 'tail must be a word span'),
    ('pred_scores', [0.2, 0.8], 'pred_scores must be a Tensor or ndarray, got list'),
    ('gt_boxes', [[0, 0, 1, 1]], 'gt_boxes must be a Tensor or ndarray'),
    ('gt_labels', 'dog', 'gt_labels must be a list of class names (str)'),
])
def test_wrong_type_of_a_data_field_is_a_clear_error(name, value, message):
    sample = PMUDataSample()
    with pytest.raises(TypeError, match=f'^PMUDataSample.{message}'.replace('(', r'\(').replace(')', r'\)')):
        setattr(sample, name, value)
    with pytest.raises(TypeError, match=f'PMUDataSample.{name} must be'):
        sample.set_field(value, name)  # the way the packer and the model set fields
    assert name not in sample


@pytest.mark.parametrize('key, value, message', [
    ('has_image', 'yes', 'has_image must be a bool, got str'),
    ('sample_idx', '3', 'sample_idx must be an int'),
    ('words', 'Kevin Durant', 'words must be a list of str, got str'),
    ('word_ids', [1, None], 'word_ids must be a list of int'),
    ('img_path', 3, 'img_path must be a str or None'),
])
def test_wrong_type_of_a_metainfo_key_is_a_clear_error(key, value, message):
    with pytest.raises(TypeError, match=f'PMUDataSample.{message}'):
        PMUDataSample(metainfo={key: value})


def test_packer_refuses_a_pipeline_result_of_the_wrong_type():
    results = dict(_mre_results(), head=[1])  # a span cut to one number by a broken transform
    with pytest.raises(TypeError, match=r'PMUDataSample.head must be a word span \(start, end\) of two ints'):
        PackMultimodalInputs()(results)


def test_numpy_values_the_tensor_methods_produce_are_accepted():
    sample = PMUDataSample(metainfo=dict(sample_idx=np.int64(2), has_image=np.bool_(True)))
    sample.gt_boxes, sample.gt_boxes_valid = np.zeros((2, 4), np.float32), np.ones(2, bool)
    sample.pred_image_feat = torch.ones(4)
    assert isinstance(sample.to_tensor().gt_boxes, torch.Tensor)
    assert isinstance(sample.numpy().pred_image_feat, np.ndarray)
