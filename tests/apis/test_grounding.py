"""Entity grounding with real parts: the ONNX detector of the preparation config on COCO-mini images,
the MiniLM/EfficientNet PROMU student built from the pre-training config on a real pseudo-label cache
(its weights as built, saved as a checkpoint with its dumped config, as a training run leaves them)."""
import os
import os.path as osp

import pytest
import torch

from pmu.apis.grounding import (
    EntityGrounder,
    build_detector,
    entity_phrase,
    evaluate_grounding,
    find_pretrain_config,
    target_class,
)
from pmu.pseudo_labels import ImageInput, find_model_file
from pmu.utils.image import load_image
from tests.models.pretrainers.conftest import STUDENT_CFG, cache_dir, small_config  # noqa: F401  (fixture)


@pytest.fixture(scope='session')
def model_root():
    try:
        return osp.dirname(osp.abspath(find_model_file('centernet-mobilenetv3-coco.onnx')))
    except FileNotFoundError as e:
        pytest.skip(f'needs the ONNX detector: {e}')


@pytest.fixture(scope='session')
def student_dir(cache_dir, tmp_path_factory):  # noqa: F811
    """A student work dir: checkpoint + ``last_checkpoint`` + the dumped config."""
    from pmu.registry import MODELS
    work = tmp_path_factory.mktemp('student')
    cfg = small_config(STUDENT_CFG, cache_dir, work)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    ckpt = work / 'epoch_1.pth'
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    (work / 'last_checkpoint').write_text(str(ckpt))
    cfg.dump(str(work / 'promu_minilm-effnet_coco-mini.py'))
    return str(work)


@pytest.fixture(scope='session')
def grounder(student_dir, model_root):
    with pytest.MonkeyPatch.context() as mp:  # the default detector config names the model file only
        mp.setenv('PMU_MODEL_ROOT', model_root)
        return EntityGrounder(student_dir, threshold=0.0)


@pytest.fixture(scope='session')
def person_image(grounder, coco_mini):
    """A COCO-mini val image in which the detector finds a person, and the detections."""
    folder = osp.join(coco_mini, 'val2017')
    for name in sorted(os.listdir(folder)):
        path = osp.join(folder, name)
        img = load_image(path).image
        det = grounder.detector([ImageInput(path, img.width, img.height, img)])[0]
        if 'person' in [det.class_names[i] for i in det.labels]:
            return path, det
    pytest.skip('no COCO-mini val image with a detected person')


def test_prompts_name_the_entity_and_its_type():
    assert entity_phrase('Kawhi Leonard', 'PER') == 'Kawhi Leonard, a person'
    assert entity_phrase('NBA', 'ORG') == 'NBA, an organization'
    assert entity_phrase('Paris', 'loc') == 'Paris, a place'
    assert entity_phrase('iPhone', 'MISC') == 'iPhone'
    assert entity_phrase('two dogs', 'OTHER') == 'two dogs'


def test_a_person_entity_gets_one_of_the_detectors_boxes(grounder, person_image):
    path, det = person_image
    [region] = grounder.ground(path, [dict(text='Kawhi Leonard', type='PER')])
    assert region is not None
    boxes = [[round(float(v), 2) for v in b] for b in det.boxes]
    assert region['box'] in boxes
    k = boxes.index(region['box'])
    assert region['label'] == det.class_names[det.labels[k]]
    assert region['detector_score'] == pytest.approx(float(det.scores[k]), abs=1e-4)
    assert 0.0 <= region['score'] <= 1.0


def test_regions_are_ranked_by_score_and_the_best_is_returned(grounder, person_image):
    path, det = person_image
    entities = [dict(text='a man', type='PER'), dict(text='the street', type='LOC')]
    ranked = grounder.score_regions(path, entities)
    assert [len(r) for r in ranked] == [len(det), len(det)]
    for regions, best in zip(ranked, grounder.ground(path, entities)):
        scores = [r['score'] for r in regions]
        assert scores == sorted(scores, reverse=True)
        assert best == regions[0]


def test_no_region_passes_a_threshold_above_one(grounder, person_image, monkeypatch):
    path, _ = person_image
    monkeypatch.setattr(grounder, 'threshold', 1.01)
    assert grounder.ground(path, [dict(text='a man', type='PER'), dict(text='Paris', type='LOC')]) == [None, None]


def test_a_missing_or_unreadable_image_gives_no_regions_and_says_why(grounder, tmp_path, mmlog):
    entities = [dict(text='a man', type='PER'), dict(text='Paris', type='LOC')]
    assert grounder.ground(str(tmp_path / 'gone.jpg'), entities) == [None, None]
    assert any('gone.jpg' in m and 'missing' in m for m in mmlog.lines)
    text = tmp_path / 'notes.jpg'
    text.write_text('not an image')
    assert grounder.ground(str(text), entities) == [None, None]
    assert any('notes.jpg' in m and 'unreadable' in m for m in mmlog.lines)


def test_bad_entities_are_named(grounder, person_image):
    with pytest.raises(ValueError, match=r'entities\[1\]'):
        grounder.ground(person_image[0], [dict(text='a man', type='PER'), dict(type='PER')])
    assert grounder.ground(person_image[0], []) == []


def test_ground_result_adds_regions_and_none_without_image(grounder, person_image):
    post = dict(text='Kawhi Leonard', image=None, entities=[dict(text='Kawhi Leonard', type='PER', start=0, end=13)])
    assert grounder.ground_result(post)['entities'][0]['region'] is None
    post['image'] = person_image[0]
    assert grounder.ground_result(post)['entities'][0]['region']['box']


def test_the_config_is_found_in_the_work_dir_or_asked_for(student_dir, tmp_path):
    assert find_pretrain_config(student_dir).endswith('promu_minilm-effnet_coco-mini.py')
    assert find_pretrain_config(osp.join(student_dir, 'epoch_1.pth')) == find_pretrain_config(student_dir)
    with pytest.raises(FileNotFoundError, match='pass config= explicitly'):
        find_pretrain_config(str(tmp_path))


def test_any_registered_detector_can_be_given_as_a_dict(model_root):
    det = build_detector(dict(type='OnnxDetector', model_path=osp.join(model_root, 'centernet-mobilenetv3-coco.onnx'),
                              score_thr=0.5, max_per_image=2))
    assert det.score_thr == 0.5 and det.max_per_image == 2


def test_head_words_name_detector_classes():
    names = ('person', 'dog', 'dining table', 'cell phone')
    assert target_class('woman', names) == 'person'
    assert target_class('table', names) == 'dining table'
    assert target_class('dog', names) == 'dog'
    assert target_class('sky', names) is None


def test_evaluate_grounding_counts_entities_that_name_a_detected_class(grounder, cache_dir):  # noqa: F811
    figures = evaluate_grounding(grounder, osp.join(cache_dir, 'pairs.jsonl'), image_filter=None, limit=10,
                                 progress=False)
    assert figures['pairs'] == 10
    assert 0 <= figures['accuracy'] <= 1 and 0 <= figures['baseline_accuracy'] <= 1
    assert figures['grounded_share'] == (1.0 if figures['entities'] else 0.0)  # threshold 0
