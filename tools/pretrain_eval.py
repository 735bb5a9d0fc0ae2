"""Evaluate pre-training: image–text retrieval, and the teacher's entity/object-class agreement.

    # retrieval R@1/5/10 on the config's test split (COCO-mini val), of a checkpoint
    python tools/pretrain_eval.py CONFIG --checkpoint CKPT
    # ... or of the model as built, before any pre-training (encoders as loaded)
    python tools/pretrain_eval.py CONFIG
    # a teacher (config + checkpoint or work dir): how often its top entity for a detected
    # object is the object's class name, on the test split's images
    python tools/pretrain_eval.py TEACHER_CONFIG --checkpoint CKPT --agreement
    # a student (config + checkpoint or work dir): how often its COE and CIR heads pick the top label
    # its teacher (the config's SoftLabelHook) gives the same test pairs
    python tools/pretrain_eval.py STUDENT_CONFIG --checkpoint CKPT --student-agreement
"""
import argparse
import json
import os
import os.path as osp

from mmengine.config import DictAction


def parse_args():
    parser = argparse.ArgumentParser(description='Evaluate PROMU pre-training')
    parser.add_argument('config')
    parser.add_argument('--checkpoint', help='checkpoint file or work dir (default: the model as built)')
    parser.add_argument('--agreement', action='store_true',
                        help='teacher entity vs. detected class agreement instead of retrieval')
    parser.add_argument('--student-agreement', action='store_true',
                        help="the student's COE/CIR heads vs. its teacher's labels instead of retrieval")
    parser.add_argument('--entity-vocab', help='default: <cache_dir>/entity_vocab.txt of the test dataset')
    parser.add_argument('--tau', type=float,
                        help="for the labelled fraction (--agreement); default: the config's model.pseudo_labels")
    parser.add_argument('--threshold', type=float,
                        help="for the labelled fraction (--agreement); default: the config's model.pseudo_labels")
    parser.add_argument('--work-dir', help='where the log goes (default: work_dirs/pretrain_eval/<config>)')
    parser.add_argument('--out', help='also write the figures to this JSON file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config keys')
    return parser.parse_args()


def retrieval(cfg, checkpoint):
    from pmu.apis.config import resolve_dist_backend
    from pmu.engine import build_runner
    resolve_dist_backend(cfg)
    cfg.load_from = checkpoint
    return build_runner(cfg).test()


def agreement(cfg, checkpoint, entity_vocab, tau, threshold):
    from pmu.models.pretrainers import DEFAULT_PSEUDO_LABELS, soft_pseudo_labels
    from pmu.pseudo_labels import encode_vocabulary, read_vocabulary
    from pmu.pseudo_labels.soft_labeler import (
        build_teacher,
        entity_agreement,
        teacher_similarities,
        teacher_temperature,
    )
    from pmu.registry import DATASETS
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    teacher, checkpoint = build_teacher(cfg.filename, checkpoint)
    vocab = read_vocabulary(entity_vocab or osp.join(dataset.cache_dir, 'entity_vocab.txt'))
    # the settings the student's labels are made with: pmu's defaults, then the config's
    settings = dict(DEFAULT_PSEUDO_LABELS, **(cfg.model.get('pseudo_labels') or {}))
    tau = settings['tau'] if tau is None else tau
    tau = teacher_temperature(teacher) if tau == 'teacher' else float(tau)
    threshold = settings['threshold'] if threshold is None else threshold
    templates = settings['entity_templates']
    prompts = encode_vocabulary(vocab, templates, teacher.encode_text, encoder_id='eval')
    images = dataset.unique_images()
    coe_sim, box_valid, _, _ = teacher_similarities(teacher, images, prompts, prompts[:1], dataset.num_objects)
    _, confident = soft_pseudo_labels(coe_sim, tau, threshold)
    out = entity_agreement(coe_sim, box_valid, images, vocab, confident=confident & box_valid)
    out.update(images=len(images), tau=tau, threshold=threshold,
               labelled_of_objects=float((confident & box_valid).sum() / box_valid.sum().clamp(min=1)))
    return out


def student_agreement(cfg, checkpoint):
    """The student's COE and CIR heads against its teacher's top labels of the test split's pairs
    (:meth:`~pmu.models.PromuPretrainer.alignment_agreement`; the teacher: the config's
    ``SoftLabelHook``), in % of the pairs (CIR) and of their boxes in view (COE) the teacher labels."""
    from mmengine.runner import Runner

    from pmu.pseudo_labels import read_vocabulary
    from pmu.pseudo_labels.soft_labeler import SoftPromptLabeler
    from pmu.registry import MODELS
    from pmu.utils.checkpoint import load_mapped_checkpoint
    from pmu.utils.progress import LoopProgress
    hook = next((h for h in cfg.get('custom_hooks') or [] if h.get('type') == 'SoftLabelHook'), None)
    if hook is None:
        raise SystemExit(f'{cfg.filename}: no SoftLabelHook in custom_hooks names the teacher of the student')
    model = MODELS.build(cfg.model)
    load_mapped_checkpoint(model, checkpoint, strict=True)
    model.eval()
    labels_dir = osp.join(cfg.work_dir, 'soft_labels')
    labeler = SoftPromptLabeler.for_student(model, hook['teacher_config'], hook['teacher_checkpoint'],
                                            image_size=hook.get('image_size', (224, 224)),
                                            cache_dir=labels_dir, summary_dir=labels_dir)
    model.set_online_teacher(**labeler.online_teacher())
    loader = Runner.build_dataloader(cfg.test_dataloader)
    totals = {}
    with LoopProgress(len(loader), 'student agreement') as progress:
        for batch in loader:
            data = model.data_preprocessor(batch, False)
            for key, value in model.alignment_agreement(data['inputs'], data['data_samples']).items():
                totals[key] = totals.get(key, 0) + value
            progress.update()
    out = dict(pairs=len(loader.dataset), checkpoint=checkpoint, teacher=labeler.summary['teacher'],
               tau=labeler.summary['tau'], threshold=labeler.summary['threshold'])
    for head, rows, vocab in (('cir', 'pairs', model.relation_vocab), ('coe', 'boxes in view', model.entity_vocab)):
        if f'{head}_rows' not in totals:
            continue
        labelled, agree = totals[f'{head}_labelled'], totals[f'{head}_agree']
        names = read_vocabulary(vocab)
        teacher_top, student_top = totals[f'{head}_teacher_top'], totals[f'{head}_student_top']
        majority = int(teacher_top.argmax())
        out[head] = dict(
            rows=totals[f'{head}_rows'], rows_are=rows, labelled=labelled,
            labelled_share=100 * labelled / max(totals[f'{head}_rows'], 1),
            agree=agree, agreement=100 * agree / labelled if labelled else None,
            # what the agreement is to be read against: always answering the teacher's commonest label
            teacher_majority=names[majority],
            majority_share=100 * int(teacher_top[majority]) / labelled if labelled else None,
            teacher_distinct_labels=int((teacher_top > 0).sum()),
            student_distinct_labels=int((student_top > 0).sum()),
            teacher_top5=[(names[i], int(teacher_top[i])) for i in teacher_top.argsort(descending=True)[:5]],
            student_top5=[(names[i], int(student_top[i])) for i in student_top.argsort(descending=True)[:5]])
    return out


def main():
    args = parse_args()
    from pmu.engine import register_safe_globals
    register_safe_globals()  # MMEngine's load_from / --resume through pmu's safe torch.load
    from pmu.utils import register_all_modules
    register_all_modules()
    from pmu.apis.config import load_complete_config
    cfg = load_complete_config(args.config, args.cfg_options)
    cfg.work_dir = args.work_dir or osp.join('work_dirs', 'pretrain_eval',
                                             osp.splitext(osp.basename(args.config))[0])
    if args.agreement and args.student_agreement:
        raise SystemExit('--agreement (a teacher) and --student-agreement (a student): one at a time')
    if args.student_agreement:
        if not args.checkpoint:
            raise SystemExit('--student-agreement needs the student --checkpoint')
        from pmu.utils.checkpoint import resolve_checkpoint
        result = student_agreement(cfg, resolve_checkpoint(args.checkpoint))
    elif args.agreement:
        if not args.checkpoint:
            raise SystemExit('--agreement needs the teacher --checkpoint')
        result = agreement(cfg, args.checkpoint, args.entity_vocab, args.tau, args.threshold)
    else:
        checkpoint = args.checkpoint
        if checkpoint:
            from pmu.utils.checkpoint import resolve_checkpoint
            checkpoint = resolve_checkpoint(checkpoint)
        result = retrieval(cfg, checkpoint)
    print(json.dumps(result, indent=2))
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)


if __name__ == '__main__':
    from pmu.utils.errors import run_tool
    run_tool(main, 'tools/pretrain_eval.py')
