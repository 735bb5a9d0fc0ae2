"""pmu's configs as the tools run them, one job per module:

- :mod:`.loading`: the file, ``--cfg-options``, completion and the tool's
  settings (:func:`load_complete_config`, :func:`load_run_config`, :func:`load_tool_config`), and the
  checks a tool makes before building a runner (:func:`check_data_files`,
  :func:`check_checkpoint_matches`);
- :mod:`.overrides`: ``--cfg-options`` that nothing would read, refused
  before they are merged (:func:`check_cfg_options`);
- :mod:`.completion`: what a leaf states once, copied where MMEngine's
  components read it (:func:`complete_config`, a sequence of named steps,
  :data:`COMPLETION_STEPS`);
- :mod:`.runtime`: run-time preparation (:func:`prepare_train_config`,
  :func:`prepare_test_config`: distributed backend, mixed precision, pinned
  memory, resuming).
"""
from pmu.utils.errors import ConfigError, ConfigKeyError, ConfigValueError

from .completion import COMPLETION_STEPS, TOKENIZING_STEPS, complete_config, completion_changes, completion_step
from .loading import (check_checkpoint_matches, check_data_files, config_task, load_complete_config,
                      load_run_config, load_tool_config)
from .overrides import check_cfg_options
from .runtime import (amp_optim_wrapper, init_cpu_distributed, pin_memory_on_cuda, prepare_test_config,
                      prepare_train_config, resolve_dist_backend)

__all__ = [
    'COMPLETION_STEPS', 'TOKENIZING_STEPS', 'ConfigError', 'ConfigKeyError', 'ConfigValueError', 'amp_optim_wrapper',
    'check_cfg_options', 'check_checkpoint_matches', 'check_data_files', 'complete_config', 'completion_changes',
    'completion_step', 'config_task', 'init_cpu_distributed', 'load_complete_config', 'load_run_config',
    'load_tool_config', 'pin_memory_on_cuda', 'prepare_test_config', 'prepare_train_config', 'resolve_dist_backend'
]
