"""Find the entities of a new post: ``python tools/infer.py CONFIG CHECKPOINT --text "..." [--image IMG]``."""
import argparse
import json


def main():
    p = argparse.ArgumentParser(description='Run a trained MNER model on new posts')
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--text', action='append', required=True,
                   help='the post (repeat for several posts)')
    p.add_argument('--image', action='append', default=None,
                   help="the post's image (repeat in the order of --text; omit for none)")
    p.add_argument('--device', default='cpu')
    args = p.parse_args()
    from pmu.apis import MNERInferencer
    images = args.image or []
    if len(images) > len(args.text):
        p.error('more --image than --text')
    ner = MNERInferencer(args.config, args.checkpoint, device=args.device)
    for i, text in enumerate(args.text):
        result = ner(text, image=images[i] if i < len(images) else None)
        if not result['has_image']:
            note = 'no image given' if i >= len(images) else f'image {images[i]} unreadable'
            result['note'] = f'{note}: ran text-only'
        print(json.dumps(result, ensure_ascii=False))


if __name__ == '__main__':
    main()
