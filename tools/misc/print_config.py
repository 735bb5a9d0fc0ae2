"""Print the config a tool would run: the file, its ``_base_`` files, ``--cfg-options`` and what
``complete_config`` derives (tags, relations, tokenizers, ``max_length``, dropped ``LoadImage`` steps,
scheduler bounds), as MMDetection's ``tools/misc/print_config.py``.

    python tools/misc/print_config.py CONFIG [--cfg-options KEY=VALUE ...] [--raw] [--diff] [--save-path FILE]

``--raw`` prints the file as merged, before completion; ``--diff`` prints only the lines completion
adds or changes.
"""
import argparse
import difflib
import sys

from mmengine.config import Config, DictAction


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Print the complete config a pmu tool runs')
    p.add_argument('config')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config keys')
    p.add_argument('--raw', action='store_true', help='before completion (the files and overrides only)')
    p.add_argument('--diff', action='store_true', help='only what completion adds or changes')
    p.add_argument('--save-path', help='also write the printed config there (.py)')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from pmu.apis.config import check_cfg_options, complete_config
    from pmu.utils.errors import ConfigKeyError
    try:
        cfg = Config.fromfile(args.config)
    except FileNotFoundError as e:
        sys.exit(f'print_config: {e}')
    if args.cfg_options:
        try:
            check_cfg_options(cfg, args.cfg_options)
        except ConfigKeyError as e:
            sys.exit(f'print_config: {e}')
        cfg.merge_from_dict(args.cfg_options)
    raw = cfg.pretty_text
    text = raw if args.raw else complete_config(cfg).pretty_text
    if args.diff:
        text = '\n'.join(line for line in difflib.unified_diff(raw.splitlines(), text.splitlines(), 'as written',
                                                               'as run', lineterm='', n=0))
    print(text)
    if args.save_path:
        with open(args.save_path, 'w', encoding='utf-8') as f:
            f.write(text + '\n')


if __name__ == '__main__':
    main()
