"""tools/analysis/browse_dataset.py run as a user runs it: on the real Twitter-2017 val (the demo set
without it), on MNRE when present, and on a real pseudo-label cache with a teacher's soft labels."""
import glob
import itertools
import os
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch

from pmu.datasets import read_conll
from pmu.visualization.browse import find_soft_labels, results_from_pairs
from tests.conftest import REPO
from tests.models.pretrainers.conftest import STUDENT_CFG, TEACHER_CFG, cache_dir, small_config  # noqa: F401  (fixture)

TOOL = osp.join(REPO, 'tools', 'analysis', 'browse_dataset.py')


def browse(*args, data_root=None):
    env = dict(os.environ, OMP_NUM_THREADS='1')
    if data_root:
        env['PMU_DATA_ROOT'] = data_root
    proc = subprocess.run([sys.executable, TOOL, *map(str, args)], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def first_sentences(path, n):
    """The gold tags of the first ``n`` tweets."""
    return [[tag for tag, _ in tags] for _, _, tags, _ in itertools.islice(read_conll(path), n)]


def test_twitter2017_val_with_gold_entities(twitter_root, tmp_path):
    out = tmp_path / 'tw'
    proc = browse('configs/mner/promu_minilm-effnet_twitter2017.py', '--split', 'val', '--limit', 4, '--png',
                  '--out-dir', out, data_root=twitter_root)
    assert '4 posts' in proc.stdout
    page = (out / 'index.html').read_text(encoding='utf-8')
    gold = sum(t.startswith('B-') for s in first_sentences(osp.join(twitter_root, 'twitter2017', 'valid.txt'), 4)
               for t in s)
    assert gold and len(re.findall(r'<mark class="t-', page)) == gold
    assert page.count('<div class="post">') == 4
    assert len(glob.glob(str(out / 'posts' / '*.png'))) == 4


def test_mnre_relations(mnre_root, tmp_path):
    out = tmp_path / 'mnre'
    browse('configs/mre/promu_minilm-effnet_mnre.py', '--split', 'val', '--limit', 3, '--out-dir', out,
           data_root=mnre_root)
    page = (out / 'index.html').read_text(encoding='utf-8')
    assert page.count('class="rel"') == 3 and page.count('class="t-HEAD"') == 3 and page.count('class="t-TAIL"') == 3


@pytest.fixture(scope='module')
def soft_labels(cache_dir, tmp_path_factory):  # noqa: F811
    """The teacher's soft labels of the cache's train images (the teacher's weights as built)."""
    from pmu.pseudo_labels.soft_labeler import SoftPromptLabeler
    from pmu.registry import DATASETS, MODELS
    work = tmp_path_factory.mktemp('teacher')
    cfg = small_config(TEACHER_CFG, cache_dir, work)
    torch.manual_seed(0)
    torch.save(dict(state_dict=MODELS.build(cfg.model).state_dict()), work / 'epoch_1.pth')
    cfg.dump(str(work / 'teacher.py'))
    student = small_config(STUDENT_CFG, cache_dir, work)
    out = work / 'soft_labels'
    labeler = SoftPromptLabeler(str(work / 'teacher.py'), str(work / 'epoch_1.pth'), student.model.entity_vocab,
                                student.model.relation_vocab, threshold=0.0, cache_dir=str(out))
    labeler.label(DATASETS.build(student.train_dataloader.dataset))
    return str(out)


def test_a_cache_with_objects_entities_and_soft_labels(cache_dir, soft_labels, tmp_path):  # noqa: F811
    out = tmp_path / 'cache'
    proc = browse('--cache', cache_dir, '--soft-labels', soft_labels, '--limit', 5, '--png', '--out-dir', out)
    assert '5 posts' in proc.stdout
    page = (out / 'index.html').read_text(encoding='utf-8')
    assert page.count('<table') == 5  # every pair's detected objects
    assert 'class="t-NOUN_CHUNK"' in page
    vocab = open(osp.join(cache_dir, 'entity_vocab.txt'), encoding='utf-8').read().split('\n')
    cells = re.findall(r'<td>([^<]*\d\.\d\d[^<]*)</td></tr>', page)
    assert cells and all(c.rsplit(' ', 1)[0].split(', ')[-1] in vocab for c in cells if c)
    assert len(glob.glob(str(out / 'posts' / '*.png'))) == 5


def test_soft_labels_are_attached_to_the_labelled_objects(cache_dir, soft_labels):  # noqa: F811
    from pmu.pseudo_labels import read_pairs, read_vocabulary
    from pmu.visualization.browse import load_soft_labels
    data = load_soft_labels(soft_labels)
    vocab = read_vocabulary(osp.join(cache_dir, 'entity_vocab.txt'))
    results = results_from_pairs(list(read_pairs(cache_dir)), data, vocab, topk=2, progress=False)
    labelled = [r for r in results if r['image'] in data['index']]
    assert labelled and all(len(r['objects'][0]['soft_labels']) == 2 for r in labelled if r['objects'])
    row = data['index'][labelled[0]['image']]
    top = vocab[int(data['coe'][row, 0].float().argmax())]
    assert labelled[0]['objects'][0]['soft_labels'][0][0] == top
    assert find_soft_labels(osp.dirname(soft_labels)).startswith(soft_labels)
    with pytest.raises(FileNotFoundError, match='labels_'):
        find_soft_labels(cache_dir)
