#!/usr/bin/env bash
# Install everything (tools/install.sh) and run the whole test suite.
#   bash tools/run_tests.sh            # all tests
#   bash tools/run_tests.sh -m "not slow"   # skip the ones that train or start processes
set -euo pipefail
cd "$(dirname "$0")/.."
# MMDetection's adapter is tested against the real library whenever a prebuilt
# mmcv wheel is at hand (PMU_EXTRAS overrides).
if [ -z "${PMU_EXTRAS:-}" ]; then
    if [ -d "${PMU_WHEELS:-../shared/wheels}" ]; then export PMU_EXTRAS=tests,mmdet; else export PMU_EXTRAS=tests; fi
fi
bash tools/install.sh
VENV=${PMU_VENV:-.venv}
# Nothing may be fetched from a model hub while testing.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec "$VENV/bin/python" -m pytest -p no:cacheprovider "$@"
