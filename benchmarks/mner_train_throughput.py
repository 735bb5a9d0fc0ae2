"""MNER training throughput and peak memory: pmu's runner vs. a plain PyTorch loop.

Both train the same model (the lite multimodal config) on the same batches of
real Twitter-2017 tweets, each in a fresh process so that peak memory is its
own. Tweet images are not available offline, so by default every tweet is
given a real COCO-mini photo (``--images coco``) to exercise the full visual
path; ``--images none`` measures the text-only path that Twitter runs take
here.

    python benchmarks/mner_train_throughput.py [--iters 30] [--warmup 5] [--images coco|none]
"""
import argparse
import glob
import json
import os
import os.path as osp
import resource
import subprocess
import sys
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(REPO, 'configs/mner/promu_minilm-effnet_twitter2017.py')


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(args):
    import torch
    from pmu.apis.config import load_complete_config
    cfg = load_complete_config(CONFIG)  # completed: the pipeline's tokenizer, the model's tags
    n = (args.iters + args.warmup) * args.batch_size
    cfg.train_dataloader.update(batch_size=args.batch_size, num_workers=args.workers,
                                persistent_workers=args.workers > 0)
    cfg.train_dataloader.sampler = dict(type='DefaultSampler', shuffle=False)
    cfg.train_dataloader.dataset.indices = n
    if args.images == 'coco':
        from pmu.utils import find_data_root
        photos = sorted(glob.glob(osp.join(find_data_root(), 'coco-mini', 'train2017', '*.jpg')))
        link_dir = osp.join(args.tmp, 'imgs')
        os.makedirs(link_dir, exist_ok=True)
        # every tweet id gets a photo, through symlinks named <IMGID>.jpg
        from pmu.datasets import read_conll
        ann = osp.join(find_data_root(), 'twitter2017', 'train.txt')
        for i, (img_id, *_rest) in enumerate(read_conll(ann)):
            if i >= n:
                break
            dst = osp.join(link_dir, img_id + '.jpg')
            if not osp.exists(dst):
                os.symlink(osp.abspath(photos[i % len(photos)]), dst)
        cfg.train_dataloader.dataset.data_prefix = dict(img_path=osp.abspath(link_dir))
    torch.manual_seed(0)
    return cfg


def run_runner(args) -> dict:
    from mmengine.hooks import Hook
    from mmengine.runner import Runner
    cfg = build(args)
    marks = {}

    class Timing(Hook):
        priority = 'VERY_LOW'

        def before_train_iter(self, runner, batch_idx, data_batch=None):
            if runner.iter == args.warmup:
                marks['start'] = time.perf_counter()

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            marks['end'] = time.perf_counter()

    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=args.iters + args.warmup,
                         val_interval=10**9)
    cfg.param_scheduler = []
    cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None
    cfg.test_dataloader = cfg.test_evaluator = cfg.test_cfg = None
    cfg.default_hooks.checkpoint = None
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=10**6)
    cfg.custom_hooks = []
    cfg.work_dir = osp.join(args.tmp, 'runner')
    cfg.log_level = 'WARNING'
    runner = Runner.from_cfg(cfg)
    runner.register_hook(Timing())
    runner.train()
    return dict(seconds=marks['end'] - marks['start'])


def run_plain(args) -> dict:
    import torch
    from mmengine.runner import Runner
    from pmu.registry import MODELS
    from pmu.utils import register_all_modules
    register_all_modules()
    cfg = build(args)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
    # the same AdamW, per-component learning rates and clipping as the config
    from mmengine.optim import build_optim_wrapper
    optim = build_optim_wrapper(model, cfg.optim_wrapper).optimizer
    start = None
    for i, batch in enumerate(loader):
        if i == args.warmup:
            start = time.perf_counter()
        data = model.data_preprocessor(batch, True)
        loss = sum(model(**data, mode='loss').values())
        optim.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optim.step()
        if i + 1 == args.iters + args.warmup:
            break
    return dict(seconds=time.perf_counter() - start)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--iters', type=int, default=30, help='timed iterations')
    p.add_argument('--warmup', type=int, default=5)
    p.add_argument('--batch-size', type=int, default=16)
    p.add_argument('--workers', type=int, default=1)
    p.add_argument('--images', choices=['coco', 'none'], default='coco')
    p.add_argument('--mode', choices=['runner', 'plain'], help=argparse.SUPPRESS)
    p.add_argument('--tmp', default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.mode:
        from pmu.utils import register_all_modules
        register_all_modules()
        res = (run_runner if args.mode == 'runner' else run_plain)(args)
        res.update(samples_per_s=args.iters * args.batch_size / res['seconds'],
                   peak_rss_mib=peak_rss_mib())
        print('RESULT ' + json.dumps(res))
        return
    import tempfile
    import torch
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ('plain', 'runner'):
            cmd = [sys.executable, __file__, '--mode', mode, '--tmp', tmp] + [
                f'--{k.replace("_", "-")}={v}' for k, v in vars(args).items()
                if k not in ('mode', 'tmp')]
            out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
            line = [ln for ln in out.stdout.splitlines() if ln.startswith('RESULT ')]
            if out.returncode or not line:
                sys.exit(f'{mode} run failed:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}')
            results[mode] = json.loads(line[0][7:])
    print(f'lite multimodal MNER (MiniLM-L6 + EfficientNet-lite0 + PROMU fusion + CRF), '
          f'batch {args.batch_size}, {args.iters} timed iterations after {args.warmup} warm-up, '
          f'images: {args.images}, torch {torch.__version__}, {torch.get_num_threads()} threads')
    print(f'{"":28s}{"samples/s":>12s}{"peak RSS MiB":>15s}')
    for mode, name in (('plain', 'plain PyTorch loop (ref.)'), ('runner', 'pmu (MMEngine runner)')):
        r = results[mode]
        print(f'{name:28s}{r["samples_per_s"]:12.2f}{r["peak_rss_mib"]:15.0f}')
    ratio_speed = results['runner']['samples_per_s'] / results['plain']['samples_per_s']
    ratio_mem = results['runner']['peak_rss_mib'] / results['plain']['peak_rss_mib']
    print(f'{"pmu / plain":28s}{ratio_speed:12.2f}{ratio_mem:15.2f}')


if __name__ == '__main__':
    main()
