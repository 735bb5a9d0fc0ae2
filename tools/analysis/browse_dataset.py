"""Browse a dataset as an HTML page (and PNGs): posts with their gold entities or relations, or
pre-training pairs with their detected objects, extracted entities and the teacher's soft labels.

    # MNER / MRE: the split's posts with gold annotations
    python tools/analysis/browse_dataset.py configs/mner/promu_minilm-effnet_twitter2017.py --split val --limit 50
    python tools/analysis/browse_dataset.py configs/mre/promu_minilm-effnet_mnre.py --split val --limit 50 --png
    # pre-training pairs: a pre-training config (its cache and split) or a cache dir
    python tools/analysis/browse_dataset.py configs/pretrain/promu_minilm-effnet_coco-mini.py --split val \
        --soft-labels work_dirs/promu_minilm-effnet_coco-mini/soft_labels
    python tools/analysis/browse_dataset.py --cache work_dirs/prepare_onnx-centernet_spacy_coco-mini --limit 20

Writes ``<out-dir>/index.html`` (self-contained) and, with ``--png``, ``<out-dir>/posts/NNNNN.png``.
"""
import argparse
import os
import os.path as osp

from mmengine.config import DictAction

SPLITS = dict(train='train_dataloader', val='val_dataloader', test='test_dataloader')
PRETRAIN_MODELS = ('PromuPretrainer', 'PromptTeacher')


def parse_args():
    parser = argparse.ArgumentParser(description='Browse a dataset or a pseudo-label cache as HTML/PNG')
    parser.add_argument('config', nargs='?', help='an MNER, MRE or pre-training config')
    parser.add_argument('--split', choices=sorted(SPLITS), default='val')
    parser.add_argument('--limit', type=int, default=100, help='at most this many posts (0: all)')
    parser.add_argument('--out-dir', help='default: work_dirs/browse/<config or cache name>_<split>')
    parser.add_argument('--png', action='store_true', help='also draw each post to a PNG')
    parser.add_argument('--cache', help='a pseudo-label cache dir (pairs.jsonl): browse its pairs')
    parser.add_argument('--soft-labels', help="a soft-label file or folder (a student work dir's soft_labels/); "
                        "default with a pre-training config: <work_dir>/soft_labels when it exists")
    parser.add_argument('--topk', type=int, default=3, help='soft-label entries shown per object')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config keys')
    args = parser.parse_args()
    if not args.config and not args.cache:
        parser.error('give a config or --cache DIR')
    return args


def pair_results(args, cfg):
    """Result dicts of a cache's pairs: ``--cache`` or the config's ``cache_dir`` and split filter."""
    from pmu.pseudo_labels import read_pairs, read_vocabulary
    from pmu.visualization.browse import load_soft_labels, results_from_pairs
    image_filter = None
    if cfg is not None:
        dataset = cfg[SPLITS[args.split]].dataset
        cache = args.cache or dataset.get('cache_dir') or cfg.get('cache_dir')
        image_filter = dataset.get('image_filter')
    else:
        cache = args.cache
    if not osp.isfile(osp.join(cache, 'pairs.jsonl')):
        raise FileNotFoundError(f'{cache}/pairs.jsonl not found: run tools/prepare_pretrain.py first '
                                '(docs/pseudo_labels.md) or give the cache dir with --cache')
    records = []
    for r in read_pairs(cache):
        if not image_filter or image_filter in r.image:
            records.append(r)
            if args.limit and len(records) >= args.limit:
                break
    soft, vocab, source = None, None, args.soft_labels
    if source is None and cfg is not None and cfg.model.get('type') in PRETRAIN_MODELS:
        default = osp.join(cfg.get('work_dir') or osp.join('work_dirs', osp.splitext(osp.basename(args.config))[0]),
                           'soft_labels')
        source = default if osp.isdir(default) else None
    if source:
        soft = load_soft_labels(source)
        vocab = read_vocabulary(osp.join(cache, 'entity_vocab.txt'))
    return results_from_pairs(records, soft, vocab, topk=args.topk), cache


def main():
    args = parse_args()
    from pmu.utils import register_all_modules
    register_all_modules()
    from pmu.apis.config import load_complete_config
    from pmu.registry import DATASETS
    from pmu.utils.progress import track
    from pmu.visualization import PostVisualizer
    from pmu.visualization.browse import results_from_dataset

    cfg = load_complete_config(args.config, args.cfg_options) if args.config else None
    is_pairs = args.cache or cfg.model.get('type') in PRETRAIN_MODELS
    if is_pairs:
        results, cache = pair_results(args, cfg)
        name = osp.splitext(osp.basename(args.config))[0] if args.config else osp.basename(osp.normpath(cache))
    else:
        loader = cfg.get(SPLITS[args.split])
        if not loader:
            raise KeyError(f'{args.config}: no {SPLITS[args.split]} (split {args.split!r})')
        dataset = DATASETS.build(loader.dataset)
        results = results_from_dataset(dataset, args.limit or None)
        name = osp.splitext(osp.basename(args.config))[0]
    out_dir = args.out_dir or osp.join('work_dirs', 'browse', f'{name}_{args.split}')
    os.makedirs(out_dir, exist_ok=True)
    vis = PostVisualizer()
    page = vis.write_html(results, osp.join(out_dir, 'index.html'), title=f'{name} ({args.split})')
    if args.png:
        for i, r in enumerate(track(results, 'png', unit='post', min_total=50)):
            vis.draw_post(r, osp.join(out_dir, 'posts', f'{i:05d}.png'))
    print(f'[pmu] {len(results)} posts: {page}' + (f' and {out_dir}/posts/*.png' if args.png else ''))


if __name__ == '__main__':
    main()
