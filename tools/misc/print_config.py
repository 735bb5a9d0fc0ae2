"""Print the config a tool would run: the file, its ``_base_`` files, ``--cfg-options`` and what
``complete_config`` derives (tags, relations, tokenizers, ``max_length``, dropped ``LoadImage`` steps,
scheduler bounds), as MMDetection's ``tools/misc/print_config.py``.

    python tools/misc/print_config.py CONFIG [--cfg-options KEY=VALUE ...] [--raw] [--diff] [--save-path FILE]

``--raw`` prints the file as merged, before completion; ``--diff`` prints only the lines completion
adds or changes; ``--steps`` lists the steps of completion (``pmu.apis.config.COMPLETION_STEPS``), each
with what it does and the keys it changed in this config.
"""
import argparse
import difflib

from mmengine.config import DictAction


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Print the complete config a pmu tool runs')
    p.add_argument('config')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config keys')
    p.add_argument('--raw', action='store_true', help='before completion (the files and overrides only)')
    p.add_argument('--diff', action='store_true', help='only what completion adds or changes')
    p.add_argument('--steps', action='store_true', help='the steps of completion and the keys each changed')
    p.add_argument('--save-path', help='also write the printed config there (.py)')
    p.add_argument('--debug', action='store_true', help='show the traceback of a mistake, as PMU_DEBUG=1')
    return p.parse_args(argv)


def main(argv=None):
    """The tool; a mistake (a config path, a key) ends it with one line (:func:`pmu.utils.errors.run_tool`)."""
    from pmu.utils.errors import run_tool
    return run_tool(print_config, 'tools/misc/print_config.py', argv=argv)


def print_config(argv=None):
    args = parse_args(argv)
    from pmu.apis.config import check_cfg_options, complete_config, completion_changes
    from pmu.utils.config_path import load_config
    cfg = load_config(args.config)
    if args.cfg_options:
        check_cfg_options(cfg, args.cfg_options)
        cfg.merge_from_dict(args.cfg_options)
    if args.steps:
        print(steps_text(completion_changes(cfg)))
        return
    raw = cfg.pretty_text
    text = raw if args.raw else complete_config(cfg).pretty_text
    if args.diff:
        text = '\n'.join(line for line in difflib.unified_diff(raw.splitlines(), text.splitlines(), 'as written',
                                                               'as run', lineterm='', n=0))
    print(text)
    if args.save_path:
        with open(args.save_path, 'w', encoding='utf-8') as f:
            f.write(text + '\n')


def steps_text(changes) -> str:
    """One paragraph per completion step: its name, the first line of its docstring, the keys it changed."""
    from pmu.apis.config import COMPLETION_STEPS
    docs = {s.__name__: ' '.join((s.__doc__ or '').split()) for s in COMPLETION_STEPS}
    out = []
    for name, keys in changes:
        out.append(f'{name}: {docs.get(name, "")}')
        out += [f'    {k}' for k in keys] or ['    (nothing to change)']
    return '\n'.join(out)


if __name__ == '__main__':
    main()
