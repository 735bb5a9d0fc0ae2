"""Throughput of the pseudo-label preparation and recall/AP50 of its detector on COCO-mini.

    python benchmarks/prepare_throughput_and_recall.py [--config CONFIG] [--reference-config CONFIG]

1. Throughput: the whole preparation (image decoding, detector, spaCy, cache
   writing) over COCO-mini's 159 images / 795 captions, for the ONNX config and,
   in the same run, the annotation config (no detector cost: the reference that
   shows what the detector costs).
2. Detection quality on the 79 val images against COCO-mini's instance boxes
   (pycocotools COCOeval, IoU threshold 0.5, crowd boxes ignored): AP50 and
   recall with up to 100 boxes an image (all the model outputs), and at the
   pipeline's operating point (the config's score_thr / max_per_image). The
   AnnotationDetector is evaluated the same way as a check of the evaluation
   (it must give 1.0).

Needs pycocotools (``pip install pycocotools``; mmdet installs it too).
"""
import argparse
import contextlib
import io
import json
import os.path as osp
import sys
import tempfile
import time

import numpy as np
from mmengine.config import Config
from PIL import Image

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

from pmu.pseudo_labels import ImageInput  # noqa: E402
from pmu.pseudo_labels.prepare import prepare  # noqa: E402
from pmu.registry import DETECTORS  # noqa: E402
from pmu.utils.paths import find_data_root  # noqa: E402

CONFIGS = osp.join(REPO, 'configs', 'prepare')


def throughput(cfg: Config) -> dict:
    with tempfile.TemporaryDirectory() as work_dir:
        t0 = time.perf_counter()
        summary = prepare(cfg, work_dir)
        wall = time.perf_counter() - t0
    run = summary['shards'][0]['this_run']
    images, captions = summary['images'], summary['written']
    return dict(pairs=captions, images=images, wall_s=wall, build_s=run['build_s'],
                images_per_s=images / (wall - run['build_s']), captions_per_s=captions / (wall - run['build_s']),
                detector_images_per_s=images / run['detect_s'], spacy_captions_per_s=captions / run['extract_s'],
                decode_images_per_s=images / run['load_s'])


def coco_eval(gt, detections_by_image: dict) -> dict:
    """AP50 and recall@IoU0.5 (up to 100 boxes an image) with pycocotools."""
    from pycocotools.cocoeval import COCOeval
    cat_id = {c['name']: c['id'] for c in gt.loadCats(gt.getCatIds())}
    results = []
    for image_id, det in detections_by_image.items():
        for (x1, y1, x2, y2), score, label in zip(det.boxes.tolist(), det.scores.tolist(), det.labels.tolist()):
            results.append(dict(image_id=image_id, category_id=cat_id[det.class_names[label]],
                                bbox=[x1, y1, x2 - x1, y2 - y1], score=score))
    with contextlib.redirect_stdout(io.StringIO()):
        dt = gt.loadRes(results) if results else None
        ev = COCOeval(gt, dt, 'bbox')
        ev.params.imgIds = sorted(detections_by_image)
        ev.params.iouThrs = np.array([0.5])
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    # stats[0]: AP over the (single) IoU threshold; stats[8]: AR with maxDets=100
    return dict(ap50=float(ev.stats[0]), recall50=float(ev.stats[8]), boxes=len(results))


def detection_quality(detector_cfg: dict, data_root: str) -> dict:
    from pycocotools.coco import COCO
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(osp.join(data_root, 'coco-mini', 'annotations', 'instances_val2017.json'))
    detector = DETECTORS.build(detector_cfg)
    operating = dict(score_thr=detector.score_thr, max_per_image=detector.max_per_image)
    # Everything the model outputs (the ONNX model gives its 100 best boxes), for AP and recall.
    detector.score_thr, detector.max_per_image = 0.0, 100
    all_dets, op_dets = {}, {}
    for img in gt.loadImgs(sorted(gt.getImgIds())):
        path = osp.join(data_root, 'coco-mini', 'val2017', img['file_name'])
        pixels = Image.open(path).convert('RGB')
        (det, ) = detector([ImageInput(path, pixels.width, pixels.height, pixels)])
        all_dets[img['id']] = det
        op_dets[img['id']] = det.top(**operating)
    return dict(images=len(all_dets), all_boxes=coco_eval(gt, all_dets),
                operating_point=dict(operating, **coco_eval(gt, op_dets)))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--config', default=osp.join(CONFIGS, 'prepare_onnx-centernet_spacy_coco-mini.py'))
    parser.add_argument('--reference-config', default=osp.join(CONFIGS, 'prepare_annotations_spacy_coco-mini.py'))
    parser.add_argument('--json', help='also write the figures to this file')
    args = parser.parse_args()
    data_root = osp.abspath(find_data_root())
    figures = {}
    for name, path in (('detector', args.config), ('reference (annotations)', args.reference_config)):
        cfg = Config.fromfile(path)
        figures[name] = dict(config=osp.relpath(path, REPO), throughput=throughput(cfg),
                             quality=detection_quality(cfg.detector.to_dict(), data_root))
    for name, f in figures.items():
        t, q = f['throughput'], f['quality']
        print(f"== {name}: {f['config']}")
        print(f"  throughput over {t['images']} images / {t['pairs']} captions: {t['images_per_s']:.2f} images/s, "
              f"{t['captions_per_s']:.2f} captions/s end to end (model loading {t['build_s']:.1f}s excluded; "
              f"wall {t['wall_s']:.1f}s incl. loading)")
        print(f"    stages: decode {t['decode_images_per_s']:.1f} images/s, detector {t['detector_images_per_s']:.2f} "
              f"images/s, spaCy {t['spacy_captions_per_s']:.1f} captions/s")
        a, o = q['all_boxes'], q['operating_point']
        print(f"  val ({q['images']} images), IoU 0.5: all boxes (<=100/image): recall {a['recall50']:.3f}, "
              f"AP50 {a['ap50']:.3f}; operating point (score>={o['score_thr']}, <={o['max_per_image']}/image, "
              f"{o['boxes']} boxes): recall {o['recall50']:.3f}, AP50 {o['ap50']:.3f}")
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(figures, f, indent=2)


if __name__ == '__main__':
    main()
