#!/usr/bin/env bash
# GPU benchmark on one GPU in under ten minutes (bench/gpu.py): bash bench/gpu.sh OUT [options of bench/gpu.py].
# Liger-Kernel comes from the pinned wheel in bench/wheels/ (the GPU machine has no network; put it there first with
# `pip download liger-kernel==0.8.5 --no-deps -d bench/wheels`); results go to OUT/results.json and OUT/results.md.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:?usage: bash bench/gpu.sh OUT [options of bench/gpu.py]}"
shift
PYTHONUNBUFFERED=1 exec "${ENGINE_PYTHON:-python3}" "$here/gpu.py" "$out" --liger-wheels "$here/wheels" "$@"
