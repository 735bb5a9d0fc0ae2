#!/usr/bin/env bash
# pmu's main job: train the lite multimodal NER model on Twitter-2017, then
# evaluate its best checkpoint on the validation split.
#
#   bash tools/run_main.sh [CONFIG] [--cfg-options k=v ...]
#
# Installs pmu first if .venv is missing. Data: $PMU_DATA_ROOT, else ./data,
# else ../shared/data; with none of them, the small demo set in demo/data.
set -euo pipefail
cd "$(dirname "$0")/.."

CONFIG=configs/mner/promu_minilm-effnet_twitter2017.py
if [ $# -gt 0 ] && [[ "$1" != --* ]]; then CONFIG=$1; shift; fi
VENV=${PMU_VENV:-.venv}
[ -x "$VENV/bin/python" ] || bash tools/install.sh
PY="$VENV/bin/python"

if [ -z "${PMU_DATA_ROOT:-}" ]; then
    for d in data ../shared/data; do
        if [ -f "$d/twitter2017/train.txt" ]; then export PMU_DATA_ROOT=$d; break; fi
    done
fi
if [ -z "${PMU_DATA_ROOT:-}" ]; then
    export PMU_DATA_ROOT=demo/data
    echo "[pmu] no Twitter-2017 data found (set PMU_DATA_ROOT); running on the demo set in demo/data, whose scores mean nothing"
fi
echo "[pmu] data root: $PMU_DATA_ROOT"

NAME=$(basename "$CONFIG" .py)
WORK_DIR=${WORK_DIR:-work_dirs/$NAME}
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK_DIR" "$@"
BEST=$(ls -t "$WORK_DIR"/best_*.pth | head -n 1)
"$PY" tools/test.py "$CONFIG" "$BEST" --work-dir "$WORK_DIR" \
    --out "$WORK_DIR/valid_predictions.conll" "$@"
echo "[pmu] best checkpoint: $BEST"
echo "[pmu] log, curves.png and predictions: $WORK_DIR"
