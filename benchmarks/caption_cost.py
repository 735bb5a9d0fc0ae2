"""What the caption segment costs: training and inference throughput and peak memory, with vs without.

One model (``--config``, default the lite text-only Twitter-2017 caption config, freshly built:
**random weights**, which cost the same time as trained ones) trains and predicts on the same real
posts (the first ``--posts`` of the config's training split, in order, batch ``--batch-size``) in
two alternating blocks (A B A B ...): with each post's caption as the second segment, and with
``TokenizeWords(use_caption=False)`` (the very same posts without it). A config with the caption on
the visual side (``configs/orthogonality/*_capvis-blip2.py``) measures that instead: the caption encoded
apart and fused as visual tokens, against the same fusion running the post alone. Each figure is the median
over ``--repeats`` blocks with its range; the ratio is taken per block pair (``benchmarks/_common.py``).
Then the share of samples whose caption is cut to fit ``max_length`` (or dropped), for every
caption source of ``configs/_base_/datasets/captions.py`` on the splits pmu has.

    python benchmarks/caption_cost.py [--config CONFIG] [--posts 64] [--repeats 5] [--threads 1]
"""
import argparse
import copy
import os.path as osp
import statistics
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)
from benchmarks._common import fmt, interleave, machine_line, memory_kind, ratio_line  # noqa: E402

CONFIG = osp.join(REPO, 'configs/mner/textonly_minilm_twitter2017_cap-blip2.py')


def build(cfg, use_caption: bool, posts: int):
    """The training split's first ``posts`` samples through the pipeline, captions on or off."""
    from mmengine.registry import DATASETS
    ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    for step in ds_cfg.pipeline:
        if step['type'] == 'TokenizeWords':
            step['use_caption'] = use_caption
    ds_cfg['indices'] = posts
    dataset = DATASETS.build(ds_cfg)
    return [dataset[i] for i in range(len(dataset))]


def blocks_for(model, optimizer, samples, batch_size):
    import torch
    from mmengine.dataset import pseudo_collate
    batches = [pseudo_collate(samples[k:k + batch_size]) for k in range(0, len(samples), batch_size)]

    def train():
        model.train()
        for batch in batches:
            data = model.data_preprocessor(batch, True)
            loss = sum(v for k, v in model.loss(**data).items() if k.startswith('loss'))
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        return len(samples)

    def infer():
        model.eval()
        with torch.no_grad():
            for batch in batches:
                model.test_step(batch)
        return len(samples)
    return train, infer


def cut_shares():
    """``(source, split, samples with a caption, % cut, % dropped)`` for every caption source."""
    from mmengine.config import Config
    from mmengine.registry import DATASETS

    from pmu.apis.config import load_complete_config
    from pmu.datasets.truncation import count_caption_segments
    rows = []
    sources = Config.fromfile(osp.join(REPO, 'configs/_base_/datasets/captions.py')).captions
    plans = [(f'configs/mner/textonly_minilm_{ds}.py', key, src)
             for key, src in sources.items() if not key.startswith('mnre')
             for ds in (('twitter2015', 'twitter2015-hvpnet') if key.startswith('twitter2015') else ('twitter2017', ))]
    plans += [('configs/mre/textonly_minilm_mnre.py', key, src)
              for key, src in sources.items() if key.startswith('mnre')]
    for config, key, src in plans:
        cfg = load_complete_config(osp.join(REPO, config))
        for split, loader in (('train', cfg.train_dataloader), ('val', cfg.val_dataloader)):
            ds_cfg = copy.deepcopy(loader.dataset)
            ds_cfg['captions'] = src[split] if 'train' in src else src
            ds = DATASETS.build(ds_cfg)
            ds.full_init()
            counts = count_caption_segments([ds.get_data_info(i) for i in range(len(ds))], ds.pipeline)
            n = counts['whole'] + counts['cut'] + counts['dropped']
            rows.append((f'{key} ({osp.basename(config)[16:-3]})', split, n, 100 * counts['cut'] / max(n, 1),
                         100 * counts['dropped'] / max(n, 1)))
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--config', default=CONFIG)
    p.add_argument('--posts', type=int, default=64)
    p.add_argument('--batch-size', type=int, default=16)
    p.add_argument('--repeats', type=int, default=5)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--skip-cuts', action='store_true', help='leave out the table of cut captions')
    args = p.parse_args()
    import torch
    from mmengine.logging import MMLogger

    from pmu.apis.config import load_complete_config
    from pmu.registry import MODELS
    from pmu.utils import register_all_modules
    torch.set_num_threads(args.threads)
    register_all_modules()
    MMLogger.get_instance('pmu-benchmark', log_level='WARNING')
    cfg = load_complete_config(args.config)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    data = {name: build(cfg, on, args.posts) for name, on in (('caption', True), ('plain', False))}
    # the caption's sub-words: in the post's encoding (second segment) or apart (visual side)
    def subwords(inputs):
        apart = inputs.get('caption_ids')
        return len(inputs['input_ids']) + (0 if apart is None else len(apart))
    lengths = {name: statistics.mean(subwords(s['inputs']) for s in samples) for name, samples in data.items()}
    train, infer = {}, {}
    for name, samples in data.items():
        train[name], infer[name] = blocks_for(model, optimizer, samples, args.batch_size)
    print(f'# caption cost: {osp.relpath(args.config, REPO)}, {args.posts} posts, batch {args.batch_size}')
    print(machine_line())
    print(f'mean sub-words per post: with caption {lengths["caption"]:.1f}, without {lengths["plain"]:.1f}')
    for what, fns in (('training', train), ('inference', infer)):
        clock = interleave(fns, args.repeats)
        for name in fns:
            print(f'{what} {name}: {fmt(clock.rates[name])} posts/s, {memory_kind()} '
                  f'{fmt(clock.peak_mib[name], 0)} MiB')
        print(ratio_line(f'{what} with caption / without', clock.rates['caption'], clock.rates['plain']))
    if not args.skip_cuts:
        print('\ncaption source (dataset), split, samples with a caption, cut to fit max_length, dropped')
        for source, split, n, cut, dropped in cut_shares():
            print(f'{source}, {split}, {n}, {cut:.1f} %, {dropped:.1f} %')


if __name__ == '__main__':
    main()
