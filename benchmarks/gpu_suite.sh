#!/usr/bin/env bash
# Every GPU figure of docs/benchmarks.md in one go, each against its reference in the same run:
# lite and base MNER training (bf16), base pre-training (bf16, MFU), torch.compile, inference.
#   bash benchmarks/gpu_suite.sh [OUT_DIR]        # default: work_dirs/gpu_suite
# Needs a CUDA device, the data (PMU_DATA_ROOT or ../shared/data) and the pseudo-label cache of
# COCO-mini for pre-training (python tools/prepare_pretrain.py configs/prepare/prepare_onnx-centernet_spacy_coco-mini.py,
# about 1.5 MB in work_dirs/prepare_onnx-centernet_spacy_coco-mini). About 8 minutes on an H100.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-work_dirs/gpu_suite}
PY=${PYTHON:-python}
mkdir -p "$OUT"
cuda=$($PY -c 'import torch; print(torch.cuda.is_available())' 2>&1 | tail -1)
if [ "$cuda" != "True" ]; then
    echo "benchmarks/gpu_suite.sh: no CUDA device for $PY (torch.cuda.is_available(): $cuda)" >&2
    exit 2
fi
$PY -c 'import torch; print(torch.cuda.get_device_name(0), torch.__version__)' | tee "$OUT/device.txt"
status=0
run() {  # name, timeout (s), benchmark arguments...
    local name=$1 limit=$2
    shift 2
    echo "== $name: $*"
    timeout "$limit" $PY "$@" > "$OUT/$name.txt" 2>&1 || { echo "   FAILED (rc $?), see $OUT/$name.txt"; status=1; }
    grep -E 'pmu / |MFU|peak MiB|samples/s' "$OUT/$name.txt" | tail -6
}
run mner_lite_amp 150 benchmarks/mner_train_throughput.py --device cuda --amp --batch-size 32 --block-iters 10 --repeats 5 --workers 4 --pin-memory
run mner_base_amp 150 benchmarks/mner_train_throughput.py --device cuda --amp --base --batch-size 32 --block-iters 10 --repeats 5 --workers 4 --pin-memory
run pretrain_base_amp 180 benchmarks/pretrain_throughput.py --device cuda --amp --base --batch-size 64 --block-iters 5 --repeats 4 --workers 4 --pin-memory
run mner_base_amp_compile 180 benchmarks/mner_train_throughput.py --device cuda --amp --base --compile --batch-size 32 --block-iters 10 --repeats 4 --workers 4 --pin-memory
echo "figures in $OUT"
exit $status
