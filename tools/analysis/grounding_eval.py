"""How often entity grounding picks a box of the class a caption's entity names, vs the top detection.

    # the PROMU student's work dir (or checkpoint) on COCO-mini val captions of the pseudo-label cache
    python tools/analysis/grounding_eval.py work_dirs/promu_minilm-effnet_coco-mini \
        --pairs work_dirs/prepare_onnx-centernet_spacy_coco-mini/pairs.jsonl [--limit N] [--out FILE]

See ``pmu.apis.grounding.evaluate_grounding`` for what is counted.
"""
import argparse
import json


def parse_args():
    parser = argparse.ArgumentParser(description='Measure PROMU entity grounding on cached captions')
    parser.add_argument('checkpoint', help="the student's work dir or checkpoint file")
    parser.add_argument('--config', help="the student's config (default: the one dumped in its work dir)")
    parser.add_argument('--pairs', default='work_dirs/prepare_onnx-centernet_spacy_coco-mini/pairs.jsonl',
                        help="a pseudo-label cache's pairs.jsonl")
    parser.add_argument('--image-filter', default='/val2017/', help="pairs whose image path contains it ('' for all)")
    parser.add_argument('--limit', type=int, help='at most this many pairs')
    parser.add_argument('--threshold', type=float, default=0.05, help='for the grounded share')
    parser.add_argument('--out', help='also write the figures to this JSON file')
    return parser.parse_args()


def main():
    args = parse_args()
    from pmu.apis.grounding import EntityGrounder, evaluate_grounding
    grounder = EntityGrounder(args.checkpoint, config=args.config, threshold=args.threshold)
    figures = evaluate_grounding(grounder, args.pairs, image_filter=args.image_filter or None, limit=args.limit)
    print(json.dumps(figures))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(figures, f, indent=2)


if __name__ == '__main__':
    main()
