import doctest

import pmu.structures.data_sample
import pmu.structures.bio
from pmu.structures import entity_spans


def test_documented_example_runs():
    assert doctest.testmod(pmu.structures.data_sample).failed == 0


def test_entity_spans_strict_iob2():
    assert entity_spans(['B-PER', 'I-PER', 'O', 'I-LOC', 'B-ORG']) == [('PER', 0, 2), ('ORG', 4, 5)]
