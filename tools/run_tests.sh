#!/usr/bin/env bash
# Install everything (tools/install.sh) and run the whole test suite.
#   bash tools/run_tests.sh            # all tests
#   bash tools/run_tests.sh -m "not slow"   # skip the ones that train or start processes
# ruff checks the code first (pyproject.toml; PMU_LINT=0 skips it).
set -euo pipefail
cd "$(dirname "$0")/.."
# MMDetection's adapter is tested against the real library whenever a prebuilt
# mmcv wheel is at hand (PMU_EXTRAS overrides).
if [ -z "${PMU_EXTRAS:-}" ]; then
    if [ -d "${PMU_WHEELS:-../shared/wheels}" ]; then export PMU_EXTRAS=tests,mmdet; else export PMU_EXTRAS=tests; fi
fi
bash tools/install.sh
VENV=${PMU_VENV:-.venv}
# Lint first (seconds; the rules are in pyproject.toml); PMU_LINT=0 skips it.
if [ "${PMU_LINT:-1}" != 0 ]; then
    "$VENV/bin/python" -m ruff check . || { echo 'tools/run_tests.sh: ruff found problems (ruff check --fix . mends most)' >&2; exit 1; }
fi
# Nothing may be fetched from a model hub while testing.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec "$VENV/bin/python" -m pytest -p no:cacheprovider "$@"
