"""MNER inference throughput (posts/s): ``pmu.apis.MNERInferencer`` vs. a plain forward loop.

Both run the same model (the lite config ``mner/promu_minilm-effnet_twitter2017.py``, freshly
built: **random weights**, which cost the same time as trained ones) on the same real
Twitter-2017 validation posts, in the same process, for batch sizes 1 and 32, text-only and
with an image per post (COCO-mini photos: tweet images are not available offline).

- inferencer: ``ner(posts, batch_size=B)`` from raw text: word splitting with offsets, window
  planning, pipeline (image decoding, sub-word tokenisation), forward, BIO-constrained Viterbi and
  CRF marginals, result dicts;
- plain loop: the dataset's words through the same pipeline and ``pseudo_collate`` in batches of
  B, then ``model.test_step`` (forward + Viterbi), as ``tools/test.py``'s loop does.

The two alternate in blocks (A B A B ...); each figure is the median over ``--repeats`` blocks, and
the ratio is taken per block pair, then its median (``benchmarks/_common.py``).

    python benchmarks/inference_throughput.py [--posts 64] [--repeats 3] [--threads 1]
"""
import argparse
import glob
import os.path as osp
import statistics
import sys
from functools import partial

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)
from benchmarks._common import interleave, machine_line, memory_kind, pair_ratios, quantile_summary  # noqa: E402

CONFIG = osp.join(REPO, 'configs/mner/promu_minilm-effnet_twitter2017.py')


def load_posts(n: int, with_images: bool):
    from pmu.datasets import read_conll
    from pmu.utils import find_data_root
    root = find_data_root()
    sentences = [r[1] for r in read_conll(osp.join(root, 'twitter2017', 'valid.txt'))][:n]
    photos = sorted(glob.glob(osp.join(root, 'coco-mini', '*2017', '*.jpg')))
    if with_images and not photos:
        raise FileNotFoundError(f'no COCO-mini photos under {root}/coco-mini')
    return [dict(words=words, text=' '.join(words),
                 image=photos[i % len(photos)] if with_images else None)
            for i, words in enumerate(sentences)]


def run_inferencer(ner, posts, batch_size):
    ner([dict(text=p['text'], image=p['image']) for p in posts], batch_size=batch_size,
        show_progress=False)


def run_plain(ner, posts, batch_size):
    import torch
    from mmengine.dataset import pseudo_collate
    with torch.no_grad():
        for k in range(0, len(posts), batch_size):
            items = [ner.pipeline(dict(words=p['words'], img_path=p['image'], has_image=p['image'] is not None,
                                       sample_idx=k + i)) for i, p in enumerate(posts[k:k + batch_size])]
            ner.model.test_step(pseudo_collate(items))


def posts_done(fn, ner, posts, batch_size) -> int:
    """One timed block: ``fn`` over ``posts``; the number of posts, for the rate."""
    fn(ner, posts, batch_size)
    return len(posts)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--posts', type=int, default=64, help='posts per timed block')
    p.add_argument('--repeats', type=int, default=3, help='A/B block pairs per setting')
    p.add_argument('--threads', type=int, default=1)
    args = p.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    from pmu.apis import MNERInferencer
    ner = MNERInferencer(CONFIG, random_weights=True, show_progress=False)
    # the same words either way: the Twitter-2017 style re-splits the space-joined tokens
    posts_text = load_posts(args.posts, with_images=False)
    assert all(ner.post_tokenizer.words(p['text']) == p['words'] for p in posts_text)
    posts_img = load_posts(args.posts, with_images=True)
    rows = []
    for name, posts in (('text only', posts_text), ('with image', posts_img)):
        for batch_size in (1, 32):
            run_inferencer(ner, posts[:batch_size], batch_size)  # warm-up
            run_plain(ner, posts[:batch_size], batch_size)
            clock = interleave({m: partial(posts_done, fn, ner, posts, batch_size)
                                for m, fn in (('inferencer', run_inferencer), ('plain', run_plain))},
                               repeats=args.repeats, warmup=0)  # the warm-up above
            rate = {m: sorted(r) for m, r in clock.rates.items()}
            inf, plain = statistics.median(rate['inferencer']), statistics.median(rate['plain'])
            ratio = quantile_summary(pair_ratios(clock.rates['inferencer'], clock.rates['plain']))
            peak = {m: statistics.median(v) for m, v in clock.peak_mib.items()}
            rows.append((name, batch_size, inf, plain, rate, ratio, peak))
            print(f'{name}, batch {batch_size}: inferencer {inf:.1f} posts/s, plain loop {plain:.1f} posts/s',
                  flush=True)
    print(f'\nlite MNER config, random weights, {args.posts} Twitter-2017 validation posts per block, '
          f'{args.repeats} A/B blocks (median), {args.threads} thread(s), CPU\n{machine_line()}\n'
          f'peak memory: {memory_kind()} per block, median, the model shared by both sides\n')
    print('| input | batch size | inferencer, posts/s (min–max) | plain forward loop, posts/s (min–max) '
          '| inferencer / plain, per block pair (min–max) | peak MiB, inferencer / plain |')
    print('| --- | --- | --- | --- | --- | --- |')
    for name, batch_size, inf, plain, rate, ratio, peak in rows:
        spread = {m: f'{r[0]:.1f}–{r[-1]:.1f}' for m, r in rate.items()}
        print(f'| {name} | {batch_size} | {inf:.1f} ({spread["inferencer"]}) | {plain:.1f} ({spread["plain"]}) '
              f'| {ratio["median"]:.2f} ({ratio["min"]:.2f}–{ratio["max"]:.2f}) '
              f'| {peak["inferencer"]:.0f} / {peak["plain"]:.0f} |')


if __name__ == '__main__':
    main()
