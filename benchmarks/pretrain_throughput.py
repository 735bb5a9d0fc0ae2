"""PROMU pre-training throughput (samples/s), peak memory and the share of time spent loading data.

Trains the lite student (``configs/pretrain/promu_minilm-effnet_coco-mini.py``: ITC + ITM + COE
+ CIR, the real pipeline with its augmentations) on the COCO-mini train pairs of a
pseudo-label cache. Label quality does not change the cost of a step, so random soft
labels stand in for the teacher's (no teacher checkpoint needed).

    python tools/prepare_pretrain.py configs/prepare/prepare_onnx-centernet_spacy_coco-mini.py
    python benchmarks/pretrain_throughput.py [--cache-dir DIR] [--iters 10] [--warmup 2]
        [--batch-size 32] [--workers 1] [--amp]

"data loading" is the time the training loop waits for the next batch (with
``--workers 0`` it is the whole pipeline: decoding, augmentation, tokenisation).
Peak memory: the main process's maximum RSS (and the workers' on top), plus the
peak CUDA memory when a GPU is used.
"""
import argparse
import os.path as osp
import resource
import sys
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(REPO, 'configs/pretrain/promu_minilm-effnet_coco-mini.py')


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--config', default=CONFIG)
    p.add_argument('--cache-dir', default='work_dirs/prepare_onnx-centernet_spacy_coco-mini')
    p.add_argument('--iters', type=int, default=10)
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--batch-size', type=int, default=32)
    p.add_argument('--workers', type=int, default=1)
    p.add_argument('--amp', action='store_true', help='bf16 mixed precision, as tools/train.py --amp')
    return p.parse_args()


def main():
    args = parse_args()
    sys.path.insert(0, REPO)
    import torch
    from mmengine.config import Config
    from mmengine.runner import Runner

    from pmu.apis.config import prepare_train_config
    cfg = Config.fromfile(args.config)
    opts = {'work_dir': osp.join('work_dirs', 'benchmark_pretrain'), 'train_dataloader.batch_size': args.batch_size,
            'train_dataloader.num_workers': args.workers, 'train_dataloader.persistent_workers': args.workers > 0,
            'model.entity_vocab': osp.join(args.cache_dir, 'entity_vocab.txt'),
            'model.relation_vocab': osp.join(args.cache_dir, 'relation_vocab.txt'),
            'custom_hooks': [], 'log_level': 'WARNING'}
    for split in ('train', 'val', 'test'):
        opts[f'{split}_dataloader.dataset.cache_dir'] = args.cache_dir
    cfg.merge_from_dict(opts)
    prepare_train_config(cfg, amp=args.amp)
    runner = Runner.from_cfg(cfg)
    loader = runner.build_dataloader(cfg.train_dataloader)
    optim = runner.build_optim_wrapper(cfg.optim_wrapper)
    model = runner.model
    model.train()

    images = loader.dataset.unique_images()
    index = {im['img_path']: i for i, im in enumerate(images)}
    ve, vr = model.coe_head.num_classes, model.cir_head.num_classes
    model.set_soft_labels(index, torch.softmax(torch.randn(len(images), loader.dataset.num_objects, ve), -1),
                          torch.ones(len(images), loader.dataset.num_objects, dtype=torch.bool),
                          torch.softmax(torch.randn(len(images), vr), -1), torch.ones(len(images), dtype=torch.bool))

    def batches():
        while True:
            yield from loader

    it = batches()
    data_s = step_s = 0.0
    samples = 0
    for i in range(args.warmup + args.iters):
        t0 = time.perf_counter()
        batch = next(it)
        t1 = time.perf_counter()
        model.train_step(batch, optim)
        t2 = time.perf_counter()
        if i >= args.warmup:
            data_s, step_s, samples = data_s + t1 - t0, step_s + t2 - t1, samples + len(batch['data_samples'])
    total = data_s + step_s
    rss_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rss_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else f'CPU ({torch.get_num_threads()} threads)'
    print(f'PROMU pre-training, lite student (ITC+ITM+COE+CIR), {osp.basename(args.config)}')
    print(f'device: {device}; batch {args.batch_size}; {args.workers} loader worker(s); '
          f'{"bf16 autocast" if args.amp else "fp32"}; {args.iters} timed iterations after {args.warmup}')
    print(f'throughput: {samples / total:.2f} samples/s ({total / args.iters:.2f} s/iteration)')
    print(f'data loading: {100 * data_s / total:.1f}% of the time ({data_s / args.iters:.3f} s/iteration waiting '
          f'for a batch); model step: {step_s / args.iters:.2f} s/iteration')
    print(f'peak RSS: {rss_self:.0f} MiB (main process), {rss_children:.0f} MiB (largest worker)')
    if torch.cuda.is_available():
        print(f'peak CUDA memory: {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB')


if __name__ == '__main__':
    main()
