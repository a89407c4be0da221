#!/usr/bin/env bash
# The one GPU check to run on a lent device (device tool), under 8 minutes on one H200:
# the needs_cuda tests, then the quick benchmark on CUDA with NVDEC decode and the encoder
# sweep (batch sizes x fp32/bf16/fp16). Results land in $OUT (or bench-gpu/ without it).
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-bench-gpu}"
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
pip install -q -e ".[test]" 2>&1 | tail -1
timeout 180 python -m pytest -q -p no:cacheprovider -m needs_cuda -rs 2>&1 | tee "$out/needs_cuda.txt" | tail -15
timeout 300 python -m bench --quick --device cuda --hwaccel cuda --sweep --out "$out/bench.json" 2>&1 \
    | tee "$out/bench.txt" | tail -40
