#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: the CUDA tests on the device (no simulator), the asv
# CUDA benchmarks once, and the fastmlp-vs-PyTorch CUDA table. Under 10 minutes.
#
#   pip install -e ".[test,bench,cuda]"   (and torch with CUDA for its column)
#   bash bench/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
unset NUMBA_ENABLE_CUDASIM

if ! python -c "import fastmlp, sys; sys.exit(not fastmlp.cuda_available())"; then
    python -c "import fastmlp; fastmlp.Network([2, 2], device='cuda')" || true
    echo "gpu_check: no usable CUDA GPU here (the error above names what is missing)." >&2
    exit 1
fi
python -c "from numba import cuda; cuda.detect()"

echo "== CUDA tests on the GPU"
timeout 240 python -m pytest -q tests/cuda

echo "== asv CUDA benchmarks (one run each)"
if command -v asv >/dev/null; then
    (cd bench && asv machine --yes >/dev/null \
        && timeout 150 asv run --python=same --quick --bench bench_cuda --show-stderr) \
        || echo "asv CUDA benchmarks failed or timed out (continuing)" >&2
else
    echo "asv not installed: pip install -e '.[bench]'" >&2
fi

echo "== fastmlp CUDA vs PyTorch CUDA (samples/s, median of 3)"
timeout 240 python bench/compare_cuda.py
