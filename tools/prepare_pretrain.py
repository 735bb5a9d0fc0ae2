"""Prepare PROMU pre-training pseudo-label inputs: objects, candidate entities, vocabularies.

    python tools/prepare_pretrain.py configs/prepare/prepare_onnx-centernet_spacy_coco-mini.py
    python tools/prepare_pretrain.py CONFIG --resume          # after a kill: finished pairs are not redone
    torchrun --nproc_per_node 4 tools/prepare_pretrain.py CONFIG --launcher pytorch   # sharded
"""
import argparse
import os.path as osp

from mmengine.config import DictAction


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='preparation config file')
    parser.add_argument('--work-dir', help='where the cache goes (default: work_dirs/<config name>)')
    parser.add_argument('--resume', action='store_true',
                        help='continue a killed or failed run in the work dir without redoing finished pairs')
    parser.add_argument('--launcher', choices=['none', 'pytorch'], default='none',
                        help="'pytorch' under torchrun (each rank prepares one shard); with 'none', "
                        'RANK/WORLD_SIZE environment variables select the shard')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. detector.score_thr=0.5')
    return parser.parse_args()


def main():
    args = parse_args()
    from pmu.utils.config_path import load_config
    cfg = load_config(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0])

    from pmu.pseudo_labels.prepare import prepare
    prepare(cfg, work_dir, resume=args.resume, launcher=args.launcher)
    if args.launcher == 'pytorch':
        import torch.distributed as dist
        dist.destroy_process_group()


if __name__ == '__main__':
    from pmu.utils.errors import run_tool
    run_tool(main, 'tools/prepare_pretrain.py')
