"""Run a trained MNER or MRE model on new posts; one JSON line per post on stdout.

    python tools/infer.py CONFIG WEIGHTS --text "..." [--image IMG] [--caption C] [--head H --tail T]
    python tools/infer.py CONFIG WEIGHTS --input posts.jsonl [--batch-size N] [--out-dir DIR]

WEIGHTS is a checkpoint file or a work dir. The task (MNER or MRE) comes from the config;
the API behind it is ``pmu.apis.PMUInferencer`` (docs/inference.md). Only the weights
(``state_dict``) are read, so a checkpoint written by plain MMEngine serves as well as pmu's;
weights holding NaN or infinity are refused (naming the first such tensors), never served, and so
are weights of the other task (an MNER checkpoint with an MRE config). Such mistakes, like a wrong
config path or key, end in one line on stderr, ``tools/infer.py: error: ...``, exit status 1 and
nothing on stdout (``PMU_DEBUG=1`` or ``--debug``: the traceback).
"""
import argparse
import json
import logging
import sys

from mmengine.config import DictAction


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Run a trained MNER or MRE model on new posts')
    p.add_argument('config')
    p.add_argument('weights', help='checkpoint file or work dir')
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument('--text', help='one post')
    src.add_argument('--input', help='a .jsonl file: one {"text", "image", "caption", ["head", "tail"]} per line')
    p.add_argument('--image', help="the --text post's image (omit for none)")
    p.add_argument('--caption', help="the --text post's image caption, for models trained with captions")
    p.add_argument('--captioner', metavar='NAME_OR_PATH',
                   help='models trained with captions: a transformers image-to-text model (e.g. '
                        'Salesforce/blip-image-captioning-base) that captions posts with an image and no caption')
    p.add_argument('--head', help='MRE, with --text: the head entity as it appears in the text')
    p.add_argument('--tail', help='MRE, with --text: the tail entity as it appears in the text')
    p.add_argument('--batch-size', type=int, default=1)
    p.add_argument('--out-dir', help='also write predictions.jsonl (and pictures) there')
    p.add_argument('--no-pictures', action='store_true', help='with --out-dir: no PNG/HTML')
    p.add_argument('--device', default='cpu')
    p.add_argument('--no-strict', '--non-strict', dest='no_strict', action='store_true',
                   help='load a checkpoint that lacks some tensors of the model (logged)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config keys, as tools/train.py and tools/test.py take them')
    p.add_argument('--ground', metavar='PRETRAIN_CKPT',
                   help='MNER: the region of the image each entity refers to, by a PROMU '
                        'pre-training checkpoint or work dir')
    p.add_argument('--debug', action='store_true',
                   help='show the traceback of a mistake (a config path, a key, the weights), as PMU_DEBUG=1')
    args = p.parse_args(argv)
    if args.input and (args.image or args.caption or args.head or args.tail):
        p.error('--image/--caption/--head/--tail go with --text; in --input files they are fields of each line')
    if args.input and not args.input.endswith('.jsonl'):
        p.error(f'--input {args.input}: expected a .jsonl file (one JSON object per line)')
    if args.batch_size < 1:
        p.error('--batch-size must be at least 1')
    return args


def load_config(path: str, options=None):
    """The config with ``--cfg-options`` merged (checked as the other tools check them).

    Raises :class:`~pmu.utils.errors.ConfigNotFoundError` (naming the closest configs) or
    :class:`~pmu.utils.errors.ConfigKeyError`, which :func:`pmu.utils.errors.run_tool` prints as one line.
    """

    from pmu.apis.config import check_cfg_options
    from pmu.utils.config_path import load_config as read_config
    cfg = read_config(path)
    if options:
        check_cfg_options(cfg, options)
        cfg.merge_from_dict(options)
    return cfg


def log_to_stderr():
    """stdout carries the JSON lines only; the log goes to stderr."""
    from mmengine.logging import MMLogger
    logger = MMLogger.get_instance('pmu-infer', log_level='INFO')
    for handler in logger.handlers:
        if type(handler) is logging.StreamHandler:
            handler.setStream(sys.stderr)


def main(argv=None):
    """The tool; a mistake (a config path or key, weights of another task or holding NaN) ends it with one
    line on stderr and nothing on stdout (:func:`pmu.utils.errors.run_tool`)."""
    from pmu.utils.errors import run_tool
    return run_tool(infer_posts, 'tools/infer.py', argv=argv)


def infer_posts(argv=None):
    args = parse_args(argv)
    log_to_stderr()
    from pmu.apis import PMUInferencer
    cfg = load_config(args.config, args.cfg_options)
    kwargs = {}
    if args.ground:
        if cfg.model.get('type') != 'MultimodalNER':
            sys.exit(f'--ground grounds the entities MNER finds; {args.config} is not an MNER config')
        try:
            from pmu.apis.grounding import EntityGrounder
        except ImportError as e:
            sys.exit(f'--ground needs pmu.apis.grounding.EntityGrounder, which cannot be imported: {e}')
        kwargs['grounder'] = EntityGrounder(args.ground, device=args.device)
    if args.captioner:
        kwargs['captioner'] = dict(type='HFCaptioner', name_or_path=args.captioner, device=args.device)
    if not args.no_strict:  # the weights of another task: one line before the model is built
        from pmu.apis.config import check_checkpoint_matches, complete_config
        from pmu.utils.checkpoint import resolve_checkpoint
        check_checkpoint_matches(complete_config(cfg), resolve_checkpoint(args.weights, prefer_best=True))
    # a mistake (config, weights of another task, NaN weights) stops here, before any line on stdout
    infer = PMUInferencer(cfg, args.weights, device=args.device,
                          strict=not args.no_strict, **kwargs)
    if args.text is not None:
        item = dict(text=args.text, image=args.image, caption=args.caption)
        if args.head is not None or args.tail is not None:
            item.update(head=args.head, tail=args.tail)
        inputs = [item]
    else:
        inputs = args.input
    results = infer(inputs, batch_size=args.batch_size, out_dir=args.out_dir,
                    pictures=not args.no_pictures)
    for r in results:
        print(json.dumps(r, ensure_ascii=False))


if __name__ == '__main__':
    main()
