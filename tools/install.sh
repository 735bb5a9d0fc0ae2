#!/usr/bin/env bash
# Install pmu into a virtual environment (default: .venv in the repository).
#
#   bash tools/install.sh                    # core + test tools
#   PMU_EXTRAS=tests,mmdet bash tools/install.sh   # also MMDetection (see README)
#
# PMU_EXTRAS names extras of setup.py (requirements/<extra>.txt): tests, mmdet,
# tensorboard, or all of them with all.
#
# torch is installed first and pinned (TORCH_SPEC, default torch==2.13.0, a CPU
# build on pmu's machines); everything that depends on torch comes after it,
# so no other package can pull in a different torch build.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${PMU_VENV:-.venv}
PYTHON=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
EXTRAS=${PMU_EXTRAS:-tests}

if [ ! -x "$VENV/bin/python" ]; then
    echo "[pmu] creating virtual environment $VENV"
    "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip)
"${PIP[@]}" install -q --upgrade pip
echo "[pmu] installing $TORCH_SPEC"
"${PIP[@]}" install -q "$TORCH_SPEC"

FIND_LINKS=()
if [[ ",$EXTRAS," == *",mmdet,"* || ",$EXTRAS," == *",all,"* ]]; then
    # mmcv 2.1.0 with compiled ops for this torch: a prebuilt wheel when one is
    # at hand (../shared/wheels on pmu's machines, or PMU_WHEELS), else pip
    # builds it from source (about 17 minutes on 2 cores).
    WHEELS=${PMU_WHEELS:-../shared/wheels}
    if [ -d "$WHEELS" ]; then
        FIND_LINKS=(--find-links "$WHEELS")
    else
        echo "[pmu] no prebuilt mmcv wheel found: building mmcv 2.1.0 from source"
        "${PIP[@]}" install -q 'setuptools>=77,<80' wheel ninja psutil
        MMCV_WITH_OPS=1 FORCE_CUDA=${FORCE_CUDA:-0} MAX_JOBS=${MAX_JOBS:-2} \
            "${PIP[@]}" install --no-build-isolation mmcv==2.1.0
    fi
fi
echo "[pmu] installing pmu[$EXTRAS]"
# editable (PEP 660): configs/ and tools/ are linked into pmu/.mim by setup.py
"${PIP[@]}" install -q "${FIND_LINKS[@]}" -e ".[$EXTRAS]"
"$VENV/bin/python" - <<'PY'
import torch, pmu
print(f'[pmu] ready: pmu {pmu.__version__}, torch {torch.__version__}, '
      f'CUDA available: {torch.cuda.is_available()}')
PY
