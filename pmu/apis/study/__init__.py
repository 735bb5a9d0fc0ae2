"""Multi-seed studies: many trainings, one table.

A *study config* (an MMEngine Python config, see ``configs/studies/README.md``)
lists rows (a model config plus ``--cfg-options``) and seeds. Every (row, seed)
is one *run*: ``tools/train.py`` in its own work dir, then ``tools/test.py`` on
its best checkpoint. With one worker they run in this process, through
:mod:`pmu.apis.runs` (what the two tools call); with several, or GPUs, or
another interpreter, as subprocesses. Either way a run here is the run a
person gets by pasting the recorded commands. Results live next to the
checkpoints (``WORK_DIR/ROW/seedS/result.json``): a finished run is never
trained again, a killed one resumes, and ``study.json`` / ``study.md`` can be
rebuilt from them at any time.

By job: :mod:`.plan` reads the study config and lays out runs and commands,
:mod:`.runner` runs them (:mod:`.in_process` keeps a run in this process apart),
:mod:`.records` reads what they left (results, metrics, the data their training
read), :mod:`.summary` builds the table and its flags.
"""
from .plan import (LOG_FILE, RESULT_FILE, ROW_KEYS, SPLITS, STEP_KEYS, STUDY_KEYS, TRAIN_DONE_FILE, Row, Run,
                   Step, Study, best_checkpoint, cfg_option_args, check_only, check_seeds, eval_command, expand_runs,
                   expand_steps, format_option, last_checkpoint, load_study, substitute, train_command,
                   train_options)
from .in_process import LogStream, failure_text, isolated_run
from .records import (IMAGE_SIDE_PREFIXES, IMAGE_STEPS, MEASURED_SPLITS, DataPlan, config_difference, data_plan,
                      flatten_config, format_seconds, images_now, is_image_side, log_tail, measured_data,
                      parse_data_lines, parse_metrics, read_json, read_result, run_state, split_ann_file,
                      write_json)
from .runner import DEFAULT_TOOLS_DIR, RunFailed, StudyRunner, is_own_tools, is_this_interpreter
from .summary import (aggregate, build_summary, collect_results, collect_steps, find_flags, render_markdown,
                      write_summary)

__all__ = [
    'LOG_FILE', 'RESULT_FILE', 'ROW_KEYS', 'SPLITS', 'STEP_KEYS', 'STUDY_KEYS', 'TRAIN_DONE_FILE', 'Row', 'Run',
    'Step', 'Study', 'best_checkpoint', 'cfg_option_args', 'check_only', 'check_seeds', 'eval_command', 'expand_runs',
    'expand_steps', 'format_option', 'last_checkpoint', 'load_study', 'substitute', 'train_command', 'train_options',
    'LogStream', 'failure_text', 'isolated_run',
    'IMAGE_SIDE_PREFIXES', 'IMAGE_STEPS', 'MEASURED_SPLITS', 'DataPlan', 'config_difference', 'data_plan',
    'flatten_config', 'format_seconds', 'images_now', 'is_image_side', 'log_tail', 'measured_data',
    'parse_data_lines', 'parse_metrics', 'read_json', 'read_result', 'run_state', 'split_ann_file', 'write_json',
    'DEFAULT_TOOLS_DIR', 'RunFailed', 'StudyRunner', 'is_own_tools', 'is_this_interpreter', 'aggregate',
    'build_summary', 'collect_results', 'collect_steps', 'find_flags', 'render_markdown', 'write_summary',
]
