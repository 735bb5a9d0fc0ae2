"""PROMU pre-training throughput and peak memory: pmu's runner vs. a plain PyTorch loop, interleaved.

Trains the lite student (``configs/pretrain/promu_minilm-effnet_coco-mini.py``: ITC + ITM + COE
+ CIR, the real pipeline with its augmentations; ``--base``: the bert-vit student with random
bert-base + ViT-B/16 weights) on the COCO-mini train pairs of a pseudo-label cache. Label
quality does not change the cost of a step, so random soft labels stand in for the teacher's
(no teacher checkpoint needed). pmu's MMEngine runner and a plain loop (data preprocessor,
forward, backward, clipping, optimizer step on the same model and optimizer, same batches)
run in one process, in alternating blocks (``benchmarks/_common.py``); each figure is the
median (min–max) over blocks, the ratio is taken per block pair.

    python tools/prepare_pretrain.py configs/prepare/prepare_onnx-centernet_spacy_coco-mini.py
    python benchmarks/pretrain_throughput.py [--cache-dir DIR] [--block-iters 3] [--repeats 4]
        [--warmup 2] [--batch-size 32] [--workers 1] [--base] [--amp] [--compile] [--device ...]

A separate figure, from the plain loop's blocks: the share of time it waits for the next batch
(with ``--workers 0`` that is the whole pipeline: decoding, augmentation, tokenisation).
"""
import argparse
import os.path as osp
import sys
import tempfile

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)
from benchmarks._common import add_device_args, apply_device_args, base_random, print_train_report, train_interleaved  # noqa: E402

CONFIG = osp.join(REPO, 'configs/pretrain/promu_minilm-effnet_coco-mini.py')
BASE_CONFIG = osp.join(REPO, 'configs/pretrain/promu_bert-vit_coco-mini.py')
GOAL = 0.95


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--config', default=None, help=f'default: {osp.relpath(CONFIG, REPO)}')
    p.add_argument('--cache-dir', default='work_dirs/prepare_onnx-centernet_spacy_coco-mini')
    p.add_argument('--block-iters', type=int, default=3, help='iterations per timed block')
    p.add_argument('--repeats', type=int, default=4, help='A/B block pairs')
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--batch-size', type=int, default=32)
    p.add_argument('--base', action='store_true',
                   help='the bert-vit student with random bert-base + ViT-B/16 weights')
    add_device_args(p)
    return p.parse_args()


def set_random_soft_labels(runner):
    import torch
    model = runner.model
    ds = runner.train_dataloader.dataset if hasattr(runner.train_dataloader, 'dataset') else None
    from mmengine.runner import Runner
    if ds is None:
        ds = Runner.build_dataloader(runner.cfg.train_dataloader).dataset
    images = ds.unique_images()
    index = {im['img_path']: i for i, im in enumerate(images)}
    ve, vr = model.coe_head.num_classes, model.cir_head.num_classes
    g = torch.Generator().manual_seed(0)
    model.set_soft_labels(index, torch.softmax(torch.randn(len(images), ds.num_objects, ve, generator=g), -1),
                          torch.ones(len(images), ds.num_objects, dtype=torch.bool),
                          torch.softmax(torch.randn(len(images), vr, generator=g), -1),
                          torch.ones(len(images), dtype=torch.bool))


def main():
    args = parse_args()
    apply_device_args(args)
    from mmengine.config import Config

    from pmu.apis.config import complete_config
    from pmu.utils import register_all_modules
    register_all_modules()
    config = args.config or (BASE_CONFIG if args.base else CONFIG)
    cfg = Config.fromfile(config)
    if args.base:
        base_random(cfg)
    opts = {'train_dataloader.batch_size': args.batch_size,
            'model.entity_vocab': osp.join(args.cache_dir, 'entity_vocab.txt'),
            'model.relation_vocab': osp.join(args.cache_dir, 'relation_vocab.txt')}
    for split in ('train', 'val', 'test'):
        if cfg.get(f'{split}_dataloader'):
            opts[f'{split}_dataloader.dataset.cache_dir'] = args.cache_dir
    cfg.merge_from_dict(opts)
    complete_config(cfg)
    with tempfile.TemporaryDirectory() as tmp:
        cfg.work_dir = tmp
        res = train_interleaved(cfg, args, args.block_iters, args.repeats, args.warmup,
                                before_train=set_random_soft_labels)
    what = 'bert-vit student, RANDOM bert-base + ViT-B/16 weights' if args.base else 'lite student'
    print_train_report(f'PROMU pre-training, {what} (ITC+ITM+COE+CIR), {osp.basename(config)}', res, args, GOAL)


if __name__ == '__main__':
    main()
