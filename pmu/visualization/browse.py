"""Result dicts (:mod:`pmu.visualization.post_visualizer`) from what datasets and caches hold, for browsing.

- :func:`results_from_dataset`: MNER / MRE data samples with their gold entities or relation;
- :func:`results_from_pairs`: pre-training pairs of a pseudo-label cache with their detected objects,
  the caption's extracted entities and, given the teacher's soft labels, its top entries per object.
"""
import glob
import os.path as osp
from typing import Iterable, List, Optional, Sequence

from mmengine.logging import MMLogger

from pmu.structures import entity_spans
from pmu.utils.checkpoint import load_checkpoint_file
from pmu.utils.progress import track
from .post_visualizer import post_from_words


def _image(info: dict):
    path = info.get('img_path') or None
    return path, bool(path) and info.get('has_image', True) is not False


def result_from_sample(info: dict) -> dict:
    """One MNER sentence (``words``, ``gt_tags``) or MRE instance (``words``, ``head``, ``tail``,
    ``gt_relation``) as a result dict with gold annotations: ``gold_entities`` (MNER; no ``entities``
    key, nothing was predicted) or ``head``/``tail``/``relation`` (MRE, ``score`` None)."""
    words = list(info['words'])
    path, has_image = _image(info)
    if 'gt_relation' in info:
        spans = [('HEAD', *info['head']), ('TAIL', *info['tail'])]
        text, (head, tail) = post_from_words(words, spans)
        return dict(text=text, image=path, has_image=has_image, words=words, head=head, tail=tail,
                    relation=info['gt_relation'], score=None, scores={})
    tags = list(info['gt_tags'])
    text, gold = post_from_words(words, entity_spans(tags))
    return dict(text=text, image=path, has_image=has_image, words=words, tags=tags, gold_entities=gold)


def results_from_dataset(dataset, limit: Optional[int] = None, progress: bool = True) -> List[dict]:
    """The first ``limit`` samples of an MNER or MRE dataset as result dicts (:func:`result_from_sample`)."""
    n = len(dataset) if limit is None else min(limit, len(dataset))
    return [result_from_sample(dataset.get_data_info(i))
            for i in track(range(n), 'samples', unit='sample', enabled=progress, min_total=200)]


def find_soft_labels(path: str) -> str:
    """A soft-label file: ``path`` itself, or the newest ``labels_*.pt`` in the folder ``path`` (a student
    work dir's ``soft_labels/``, or the work dir)."""
    if osp.isfile(path):
        return path
    found = glob.glob(osp.join(path, 'labels_*.pt')) + glob.glob(osp.join(path, 'soft_labels', 'labels_*.pt'))
    if not found:
        raise FileNotFoundError(f'{path}: no soft-label file (labels_*.pt, written by SoftLabelHook before the '
                                "student trains: '<work_dir>/soft_labels/')")
    newest = max(found, key=osp.getmtime)
    if len(found) > 1:
        MMLogger.get_current_instance().info(f'{len(found)} soft-label files in {path}; using the newest, {newest}')
    return newest


def load_soft_labels(path: str) -> dict:
    """``dict(index, coe, coe_valid, ...)`` of :class:`~pmu.pseudo_labels.soft_labeler.SoftPromptLabeler`."""
    data = load_checkpoint_file(find_soft_labels(path))
    missing = [k for k in ('index', 'coe', 'coe_valid') if k not in data]
    if missing:
        raise ValueError(f'{path}: not a soft-label file (no {missing})')
    return data


def results_from_pairs(records: Iterable, soft_labels: Optional[dict] = None,
                       vocabulary: Optional[Sequence[str]] = None, topk: int = 3, image_root: str = '',
                       progress: bool = True) -> List[dict]:
    """Pre-training pairs (:class:`~pmu.structures.pretrain_record.PairRecord`) as result dicts: the caption
    with its entities (type: the finder's label, e.g. ``NOUN_CHUNK``), the detected ``objects`` and, with
    ``soft_labels`` and their entity ``vocabulary``, each labelled object's ``topk`` teacher entries
    (the teacher labelled the top ``K`` objects of each image; an object whose label the threshold
    dropped shows none)."""
    if soft_labels is not None and vocabulary is None:
        raise ValueError('soft labels need the entity vocabulary they index')
    out, unlabelled = [], 0
    records = list(records)
    for r in track(records, 'pairs', unit='pair', enabled=progress, min_total=200):
        path = r.image if osp.isabs(r.image) else osp.abspath(osp.join(image_root, r.image))
        entities = [dict(text=e.text, type=e.label, start=e.span[0], end=e.span[1]) for e in r.entities]
        objects = [dict(box=list(o.box), label=o.label, score=float(o.score)) for o in r.objects]
        if soft_labels is not None:
            row = soft_labels['index'].get(path)
            if row is None:
                unlabelled += 1
            else:
                coe, valid = soft_labels['coe'][row].float(), soft_labels['coe_valid'][row]
                for k in range(min(len(objects), coe.shape[0])):
                    if bool(valid[k]):
                        p, idx = coe[k].topk(min(topk, coe.shape[-1]))
                        objects[k]['soft_labels'] = [[vocabulary[int(i)], round(float(v), 3)]
                                                     for v, i in zip(p, idx)]
        out.append(dict(text=r.caption, image=path, has_image=True, entities=entities, objects=objects,
                        match=r.match, pair_id=r.id, upright=False))
    if soft_labels is not None and unlabelled:
        MMLogger.get_current_instance().info(f'{unlabelled}/{len(out)} pairs have an image the soft labels do '
                                             'not cover (another split or cache)')
    return out
