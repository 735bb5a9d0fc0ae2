"""Shared parts of pmu's benchmarks: interleaved A/B blocks, their statistics, device figures.

On a machine shared with other jobs, the load changes from minute to minute, so two
methods timed one after the other compare two loads as much as two methods. The
benchmarks therefore run pmu and its reference in one process, in alternating blocks
(A B A B ...), and report each figure's median and spread over the blocks and the ratio
taken per adjacent block pair (then its median): a slow spell hits both blocks of a pair.

Device figures: peak memory per block (CUDA ``max_memory_allocated``; on CPU the process's
peak RSS, reset before each block through ``/proc/self/clear_refs`` where Linux allows),
FLOPs of one training step (``torch.utils.flop_counter.FlopCounterMode``) and the model FLOPs
utilisation on CUDA against the device's dense bf16 peak.
"""
import os
import os.path as osp
import platform
import resource
import statistics
import time
from typing import Callable, Dict, List, Optional, Sequence

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
# Dense bf16 tensor-core peaks (FLOP/s), from the vendors' data sheets (SXM parts).
PEAK_BF16_FLOPS = {
    'H200': 989e12,
    'H100': 989e12,  # SXM; the PCIe card: 756e12
    'A100': 312e12,
    'L40S': 362e12,
    'A10': 125e12,
}


def machine_line() -> str:
    """``'CPU: 2 cores (x86_64), load average 4.1 / 3.9 / 3.8; torch 2.13.0, 1 thread(s)'``."""
    import torch
    parts = []
    if torch.cuda.is_available():
        parts.append(f'GPU: {torch.cuda.get_device_name()}')
    try:
        load = ' / '.join(f'{x:.1f}' for x in os.getloadavg())
    except OSError:
        load = 'n/a'
    parts.append(f'CPU: {os.cpu_count()} cores ({platform.machine()}), load average {load}')
    parts.append(f'torch {torch.__version__}, {torch.get_num_threads()} thread(s)')
    return '; '.join(parts)


def quantile_summary(values: Sequence[float]) -> Dict[str, float]:
    """Median, min, max and the interquartile range (0 for fewer than 2 values)."""
    v = sorted(values)
    if not v:
        raise ValueError('no values to summarise')
    q1, q3 = (statistics.quantiles(v, n=4, method='inclusive')[::2] if len(v) > 1 else (v[0], v[0]))
    return dict(median=statistics.median(v), min=v[0], max=v[-1], q1=q1, q3=q3, n=len(v))


def fmt(values: Sequence[float], digits: int = 2) -> str:
    """``'12.30 (11.90–12.80)'``: the median and the min–max over blocks."""
    s = quantile_summary(values)
    return f'{s["median"]:.{digits}f} ({s["min"]:.{digits}f}–{s["max"]:.{digits}f})'


def pair_ratios(a: Sequence[float], b: Sequence[float]) -> List[float]:
    """``a[i] / b[i]`` for each block pair (rates: higher is faster)."""
    if len(a) != len(b) or not a:
        raise ValueError(f'block pairs differ in number: {len(a)} vs {len(b)}')
    return [x / y for x, y in zip(a, b)]


def interleave(blocks: Dict[str, Callable[[], float]], repeats: int, warmup: int = 1,
               sync: Optional[Callable[[], None]] = None) -> 'BlockClock':
    """Run each block function in turn, ``repeats`` times (A B A B ...), after ``warmup``
    untimed rounds; each returns how many samples it processed. Returns the :class:`BlockClock`
    that timed them: samples/s (``rates``) and peak memory (``peak_mib``) of every timed block,
    by name, in run order. ``sync`` (e.g. ``torch.cuda.synchronize``) runs before each clock
    reading."""
    if repeats < 1:
        raise ValueError(f'repeats must be >= 1, got {repeats}')
    for _ in range(warmup):
        for fn in blocks.values():
            fn()
    clock = BlockClock(sync)
    for _ in range(repeats):
        for name, fn in blocks.items():
            clock.start()
            clock.stop(name, fn(), 1)
    return clock


class BlockClock:
    """Times blocks that are driven from outside (e.g. by a runner's hooks): ``start()``
    and ``stop(name, samples)`` around each block; per block also the peak memory."""

    def __init__(self, sync: Optional[Callable[[], None]] = None):
        self.sync = sync or (lambda: None)
        self.rates: Dict[str, List[float]] = {}
        self.seconds: Dict[str, List[float]] = {}
        self.peak_mib: Dict[str, List[float]] = {}
        self._t0 = None

    def start(self):
        reset_peak_memory()
        self.sync()
        self._t0 = time.perf_counter()

    def stop(self, name: str, samples: int, steps: int):
        self.sync()
        dt = time.perf_counter() - self._t0
        self.rates.setdefault(name, []).append(samples / dt)
        self.seconds.setdefault(name, []).append(dt / steps)
        self.peak_mib.setdefault(name, []).append(peak_memory_mib())


def _cuda():
    import torch
    return torch.cuda.is_available() and torch.cuda.is_initialized()


def reset_peak_memory() -> None:
    """Start a new peak: CUDA's counter, or the process's peak RSS (Linux ≥ 4.0)."""
    import torch
    if _cuda():
        torch.cuda.reset_peak_memory_stats()
        return
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
    except OSError:
        pass  # the peak then stays the process's


def peak_memory_mib() -> float:
    """CUDA max_memory_allocated, else the process's peak RSS since :func:`reset_peak_memory`."""
    import torch
    if _cuda():
        return torch.cuda.max_memory_allocated() / 2**20
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_kind() -> str:
    return 'CUDA max_memory_allocated' if _cuda() else 'peak RSS of the process'


def count_flops(step: Callable[[], None]) -> float:
    """FLOPs of one call of ``step`` (forward and backward), counted by torch's FlopCounterMode
    (matrix products and convolutions, the bulk of the work)."""
    from torch.utils.flop_counter import FlopCounterMode
    counter = FlopCounterMode(display=False)
    with counter:
        step()
    return float(counter.get_total_flops())


def device_peak_flops() -> Optional[float]:
    """The dense bf16 peak of the current CUDA device, None on CPU or an unknown card."""
    import torch
    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name()
    if 'H100' in name and 'PCIe' in name:
        return 756e12
    for key, peak in PEAK_BF16_FLOPS.items():
        if key in name:
            return peak
    return None


def mfu_line(flops_per_step: float, step_seconds: float) -> str:
    """``'model FLOPs 1.23 GFLOP/step, achieved 0.05 TFLOP/s, MFU 12.3% of 989 TFLOP/s (bf16 dense)'``."""
    achieved = flops_per_step / step_seconds
    peak = device_peak_flops()
    import torch
    if peak is None:
        mfu = 'MFU n/a on CPU' if not torch.cuda.is_available() else 'MFU n/a (peak of this card unknown)'
    else:
        mfu = f'MFU {100 * achieved / peak:.1f}% of {peak / 1e12:.0f} TFLOP/s (bf16 dense peak)'
    return (f'model FLOPs {flops_per_step / 1e9:.2f} GFLOP/step (FlopCounterMode, one step), '
            f'achieved {achieved / 1e12:.4f} TFLOP/s; {mfu}')


def ratio_line(name: str, a: Sequence[float], b: Sequence[float], goal: Optional[float] = None) -> str:
    """``'pmu / plain: 0.97 (0.93–1.01) over 5 block pairs; goal >= 0.95: met'``."""
    r = pair_ratios(a, b)
    s = quantile_summary(r)
    line = (f'{name}: {s["median"]:.2f} ({s["min"]:.2f}–{s["max"]:.2f}, IQR {s["q1"]:.2f}–{s["q3"]:.2f}) '
            f'over {len(r)} block pairs (ratio per pair, median)')
    if goal is not None:
        line += f'; goal >= {goal}: {"met" if s["median"] >= goal else "NOT met"}'
    return line


def add_device_args(p) -> None:
    """The options every training benchmark takes."""
    p.add_argument('--device', choices=['auto', 'cpu', 'cuda'], default='auto',
                   help='auto: CUDA when there is a GPU (cpu hides it)')
    p.add_argument('--amp', action='store_true', help='bf16 autocast, as tools/train.py --amp')
    p.add_argument('--compile', action='store_true',
                   help="torch.compile the model's extract_feat, as tools/train.py --compile (both sides use it)")
    p.add_argument('--workers', type=int, default=1, help='data loader workers (each side has its own loader)')
    p.add_argument('--pin-memory', action='store_true')
    p.add_argument('--threads', type=int, default=None, help='torch threads (default: as OMP_NUM_THREADS)')


def apply_device_args(args) -> None:
    """Call before torch is imported: ``--device cpu`` hides the GPUs."""
    if args.device == 'cpu':
        os.environ['CUDA_VISIBLE_DEVICES'] = ''
    import torch
    if args.device == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('--device cuda: torch sees no CUDA device')
    if args.threads:
        torch.set_num_threads(args.threads)


def base_random(cfg):
    """The bert-vit config's model with random bert-base / ViT-B/16 weights, built offline."""
    from mmengine.config import Config
    enc = Config.fromfile(osp.join(REPO, 'configs/_base_/models/encoders.py')).encoders.bert_vit_random
    cfg.model.text_encoder = enc.text_encoder
    cfg.model.visual_encoder = enc.visual_encoder
    return cfg


def train_interleaved(cfg, args, block_iters: int, repeats: int, warmup: int, before_train=None) -> dict:
    """pmu's MMEngine runner vs a plain PyTorch loop, interleaved in one process.

    The runner (built from ``cfg``, a completed config) trains with its real train loop,
    hooks and optimizer wrapper; a hook hands over every ``block_iters`` iterations to a
    plain loop (``data_preprocessor`` + ``model(mode='loss')`` + backward + clipping +
    ``optimizer.step()``, under ``torch.autocast`` with ``--amp``) on **the same model and
    optimizer** and on the same batches (an own loader from the same dataloader config,
    unshuffled, in step with the runner's). The blocks alternate: runner, plain, runner, ...
    ``before_train(runner)`` runs once the runner has built the model (e.g. to set soft labels).

    Returns rates (samples/s per block), step seconds and peak memory per block, FLOPs of
    one plain step, the batch size.
    """
    import torch
    from mmengine.hooks import Hook
    from mmengine.runner import Runner

    from pmu.apis.config import prepare_train_config
    from pmu.engine import build_runner
    n_iters = warmup * 2 + block_iters * repeats
    bs = cfg.train_dataloader.batch_size
    cfg.train_dataloader.update(num_workers=args.workers, persistent_workers=args.workers > 0,
                                pin_memory=args.pin_memory)
    cfg.train_dataloader.sampler = dict(type='DefaultSampler', shuffle=False)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=warmup + block_iters * repeats, val_interval=10**9)
    cfg.param_scheduler = []
    cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None
    cfg.test_dataloader = cfg.test_evaluator = cfg.test_cfg = None
    cfg.default_hooks.checkpoint = None
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=10**6)
    cfg.custom_hooks = []
    cfg.log_level = 'WARNING'
    prepare_train_config(cfg, amp=args.amp)
    clip = (cfg.optim_wrapper.get('clip_grad') or {}).get('max_norm')
    sync = torch.cuda.synchronize if torch.cuda.is_available() else None
    clock = BlockClock(sync)
    out = dict(batch_size=bs, n_iters=n_iters)
    seen = dict(runner=[], plain=[])  # the timed batches of each side, by their samples

    def batch_key(batch):
        return tuple(s.metainfo.get('sample_idx', s.metainfo.get('img_path')) for s in batch['data_samples'])

    class Interleave(Hook):
        priority = 'LOWEST'

        def before_train(self, runner):
            if before_train is not None:
                before_train(runner)
            model = runner.model
            self.model = model
            if args.compile:
                # what tools/train.py --compile compiles (CompileModelHook): the model's extract_feat;
                # both sides call the same model
                from pmu.engine.hooks.compile import compile_methods
                compile_methods(model.module if hasattr(model, 'module') else model)
            self.fwd = model
            self.optimizer = runner.optim_wrapper.optimizer
            self.loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
            self.it = self._batches()
            self.done = 0

        def _batches(self):
            while True:
                yield from self.loader

        def plain_step(self, timed=False, batch=None):
            model = self.model
            t0 = time.perf_counter()
            if batch is None:
                batch = self.last_batch = next(self.it)
                if timed:
                    out['plain_wait_s'] = out.get('plain_wait_s', 0.0) + time.perf_counter() - t0
                    seen['plain'].append(batch_key(batch))
            with torch.autocast(device_type='cuda' if torch.cuda.is_available() else 'cpu',
                                dtype=torch.bfloat16, enabled=bool(args.amp)):
                data = model.data_preprocessor(batch, True)
                losses = self.fwd(**data, mode='loss')
                loss = sum(v for k, v in losses.items() if 'loss' in k)
            loss.backward()
            if clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            self.optimizer.step()
            # after the step, as MMEngine's OptimWrapper.update_params does: zeroing before the
            # backward instead left this loop's gradients alive into the runner's next block, whose
            # backward then added to them (and whose forward carried their memory)
            self.optimizer.zero_grad()

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            self.done += 1
            if self.done < warmup:
                return
            if self.done == warmup:  # the plain loop's warm-up, then the first runner block
                for _ in range(warmup):
                    self.plain_step()
                # on the warm-up's last batch again: the plain loop stays in step with the runner
                out['flops'] = count_flops(lambda: self.plain_step(batch=self.last_batch))
                clock.start()
                return
            seen['runner'].append(batch_key(data_batch))
            if (self.done - warmup) % block_iters == 0:
                clock.stop('runner', block_iters * bs, block_iters)
                clock.start()
                for _ in range(block_iters):
                    self.plain_step(timed=True)
                clock.stop('plain', block_iters * bs, block_iters)
                clock.start()

    runner = build_runner(cfg)
    runner.register_hook(Interleave())
    runner.train()
    out.update(rates=clock.rates, step_s=clock.seconds, peak_mib=clock.peak_mib,
               same_batches=seen['runner'] == seen['plain'] and len(seen['runner']) == block_iters * repeats)
    return out


def print_train_report(title: str, res: dict, args, goal: float) -> None:
    r = res['rates']
    print(title)
    print(machine_line())
    print(f'batch {res["batch_size"]}; {len(r["runner"])} A/B block pairs of {args.block_iters} iterations after '
          f'{args.warmup} warm-up each; {"bf16 autocast" if args.amp else "fp32"}'
          f'{"; torch.compile" if args.compile else ""}; {args.workers} loader worker(s) each side')
    print(f'{"":30s}{"samples/s":>24s}{"s/step":>24s}{"peak MiB":>24s}')
    for key, name in (('plain', 'plain PyTorch loop (ref.)'), ('runner', 'pmu (MMEngine runner)')):
        print(f'{name:30s}{fmt(r[key]):>24s}{fmt(res["step_s"][key], 3):>24s}{fmt(res["peak_mib"][key], 0):>24s}')
    print('(median (min–max) over blocks; peak memory: ' + memory_kind() +
          ', model and optimizer shared by both sides)')
    print(ratio_line('pmu / plain, samples/s', r['runner'], r['plain'], goal))
    print('batches: both sides trained on the same samples, block by block' if res.get('same_batches') else
          'batches: the two sides did NOT see the same samples: the ratio compares different batches')
    plain_s = sum(res['step_s']['plain']) * args.block_iters
    print(f'data loading: the plain loop waits for its next batch {100 * res.get("plain_wait_s", 0) / plain_s:.1f}% '
          f'of its time ({args.workers} worker(s))')
    print(mfu_line(res['flops'], statistics.median(res['step_s']['plain'])))
