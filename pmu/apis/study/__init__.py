"""Multi-seed studies: many trainings, one table.

A *study config* (an MMEngine Python config, see ``configs/studies/README.md``)
lists rows (a model config plus ``--cfg-options``) and seeds. Every (row, seed)
is one *run*: ``tools/train.py`` in its own work dir, then ``tools/test.py`` on
its best checkpoint, in subprocesses, so that a run here is exactly the run a
person gets by pasting the recorded commands. Results live next to the
checkpoints (``WORK_DIR/ROW/seedS/result.json``): a finished run is never
trained again, a killed one resumes, and ``study.json`` / ``study.md`` can be
rebuilt from them at any time.

By job: :mod:`.plan` reads the study config and lays out runs and commands,
:mod:`.runner` runs them, :mod:`.records` reads what they left (results, metrics,
the data their training read), :mod:`.summary` builds the table and its flags.
"""
from .plan import (LOG_FILE, RESULT_FILE, ROW_KEYS, SPLITS, STEP_KEYS, STUDY_KEYS, TRAIN_DONE_FILE, Row, Run,
                   Step, Study, best_checkpoint, cfg_option_args, check_only, eval_command, expand_runs,
                   expand_steps, format_option, last_checkpoint, load_study, substitute, train_command)
from .records import (IMAGE_SIDE_PREFIXES, IMAGE_STEPS, MEASURED_SPLITS, DataPlan, config_difference, data_plan,
                      flatten_config, format_seconds, images_now, is_image_side, log_tail, measured_data,
                      parse_data_lines, parse_metrics, read_json, read_result, run_state, split_ann_file,
                      write_json)
from .runner import DEFAULT_TOOLS_DIR, RunFailed, StudyRunner
from .summary import (aggregate, build_summary, collect_results, collect_steps, find_flags, render_markdown,
                      write_summary)

__all__ = [
    'LOG_FILE', 'RESULT_FILE', 'ROW_KEYS', 'SPLITS', 'STEP_KEYS', 'STUDY_KEYS', 'TRAIN_DONE_FILE', 'Row', 'Run',
    'Step', 'Study', 'best_checkpoint', 'cfg_option_args', 'check_only', 'eval_command', 'expand_runs',
    'expand_steps', 'format_option', 'last_checkpoint', 'load_study', 'substitute', 'train_command',
    'IMAGE_SIDE_PREFIXES', 'IMAGE_STEPS', 'MEASURED_SPLITS', 'DataPlan', 'config_difference', 'data_plan',
    'flatten_config', 'format_seconds', 'images_now', 'is_image_side', 'log_tail', 'measured_data',
    'parse_data_lines', 'parse_metrics', 'read_json', 'read_result', 'run_state', 'split_ann_file', 'write_json',
    'DEFAULT_TOOLS_DIR', 'RunFailed', 'StudyRunner', 'aggregate', 'build_summary', 'collect_results',
    'collect_steps', 'find_flags', 'render_markdown', 'write_summary',
]
