#!/usr/bin/env bash
# The one prepared device check for the skeleton encoder (see bench/gpu_check.py and docs/benchmarks.md).
# Usage on a GPU machine with the repo's .venv (CUDA torch 2.13.0): bash bench/gpu_check.sh [OUT_DIR]
set -euo pipefail
out="${1:-${OUT:-.}}"
py="${PYTHON:-.venv/bin/python}"
"$py" -c "import torch; print(torch.__version__, torch.cuda.is_available())"
timeout 420 "$py" bench/gpu_check.py --compile --json "$out/gpu_check.json" 2>&1 | tee "$out/gpu_check.log"
