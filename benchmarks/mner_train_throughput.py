"""MNER training throughput and peak memory: pmu's runner vs. a plain PyTorch loop, interleaved.

Both train the same model (the lite multimodal config; ``--base``: bert-base + ViT-B/16 with
random weights) on the same batches of real Twitter-2017 tweets, in one process, in
alternating blocks (runner, plain, runner, ...; ``benchmarks/_common.py``): a hook of pmu's
MMEngine runner hands over every ``--block-iters`` iterations to a plain loop on the same
model and optimizer. Each figure is the median (min–max) over blocks; the ratio is taken per
block pair. Tweet images are not available offline, so by default every tweet is given a
real COCO-mini photo (``--images coco``) to exercise the full visual path; ``--images none``
measures the text-only path that Twitter runs take here.

    python benchmarks/mner_train_throughput.py [--block-iters 4] [--repeats 5] [--warmup 2]
        [--images coco|none] [--base] [--amp] [--compile] [--device auto|cpu|cuda] [--workers 1]
        [--batch-size 16] [--config CONFIG] [--cfg-options model.fusion.num_layers=4 ...]
"""
import argparse
import glob
import os
import os.path as osp
import sys
import tempfile

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)
from benchmarks._common import add_device_args, apply_device_args, base_random, print_train_report, train_interleaved  # noqa: E402

CONFIG = osp.join(REPO, 'configs/mner/promu_minilm-effnet_twitter2017.py')
BASE_CONFIG = osp.join(REPO, 'configs/mner/promu_bert-vit_twitter2017.py')
GOAL = 0.95


def build(args, tmp):
    import torch
    from mmengine.config import Config

    from pmu.apis.config import check_cfg_options, complete_config
    from pmu.datasets import read_conll
    from pmu.utils import find_data_root
    cfg = Config.fromfile(args.config or (BASE_CONFIG if args.base else CONFIG))
    if args.base:
        base_random(cfg)
    if args.cfg_options:
        check_cfg_options(cfg, args.cfg_options)
        cfg.merge_from_dict(args.cfg_options)
    complete_config(cfg)
    n = (2 * args.warmup + args.block_iters * args.repeats) * args.batch_size
    cfg.train_dataloader.batch_size = args.batch_size
    cfg.train_dataloader.dataset.indices = n
    if args.images == 'coco':
        photos = sorted(glob.glob(osp.join(find_data_root(), 'coco-mini', 'train2017', '*.jpg')))
        link_dir = osp.join(tmp, 'imgs')
        os.makedirs(link_dir, exist_ok=True)
        # every tweet id gets a photo, through symlinks named <IMGID>.jpg
        ann = osp.join(find_data_root(), 'twitter2017', 'train.txt')
        for i, (img_id, *_rest) in enumerate(read_conll(ann)):
            if i >= n:
                break
            dst = osp.join(link_dir, img_id + '.jpg')
            if not osp.exists(dst):
                os.symlink(osp.abspath(photos[i % len(photos)]), dst)
        cfg.train_dataloader.dataset.data_prefix = dict(img_path=osp.abspath(link_dir))
        cfg.train_dataloader.dataset.allow_outside_images = True  # the links point into coco-mini/
    cfg.work_dir = osp.join(tmp, 'runner')
    torch.manual_seed(0)
    return cfg


def main():
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--config', default=None,
                   help=f'an MNER config on Twitter-2017 (default: {osp.relpath(CONFIG, REPO)}; '
                   f'--base: {osp.relpath(BASE_CONFIG, REPO)})')
    p.add_argument('--block-iters', type=int, default=4, help='iterations per timed block')
    p.add_argument('--repeats', type=int, default=5, help='A/B block pairs')
    p.add_argument('--warmup', type=int, default=2, help='untimed iterations of each side first')
    p.add_argument('--batch-size', type=int, default=16)
    p.add_argument('--images', choices=['coco', 'none'], default='coco')
    p.add_argument('--base', action='store_true',
                   help='configs/mner/promu_bert-vit_twitter2017.py with random bert-base + ViT-B/16 weights')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default=None)
    add_device_args(p)
    args = p.parse_args()
    apply_device_args(args)
    from pmu.utils import register_all_modules
    register_all_modules()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = build(args, tmp)
        res = train_interleaved(cfg, args, args.block_iters, args.repeats, args.warmup)
    model = ('base multimodal MNER (bert-base + ViT-B/16, RANDOM weights, PROMU fusion + CRF)' if args.base else
             'lite multimodal MNER (MiniLM-L6 + EfficientNet-lite0 + PROMU fusion + CRF)')
    if args.config:
        model = f'{osp.relpath(osp.abspath(args.config), REPO)}{" with RANDOM bert-base + ViT-B/16" * args.base}'
    print_train_report(f'{model}; images: {args.images}', res, args, GOAL)


if __name__ == '__main__':
    main()
