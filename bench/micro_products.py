"""BLAS against the micro-kernels on the layers' three products, per shape: the
measurement behind the choice in kernels/cpu/products.py.

Run from the repository root::

    python -m bench.micro_products               # float32, 1 BLAS thread
    python -m bench.micro_products --threads 2

Each cell is the median of 7 timed compiled loops (us a product); "chosen" is what
products.py picks for that shape under this process's profile (``FASTMLP_MICRO_KERNELS``:
run it under both to see which suits a machine), marked with ``!`` where the other was
faster by more than 10%.
"""

import argparse
import time

import numpy as np
from numba import njit
from threadpoolctl import threadpool_limits

from fastmlp.kernels import config
from fastmlp.kernels.cpu import products
from fastmlp.kernels.cpu.jit import OPTIONS

_jit = njit(**OPTIONS)

ROWS = (1, 2, 4, 8, 16, 32)
LAYERS = ((20, 64), (64, 64), (64, 2), (64, 10), (100, 10), (64, 100), (784, 256))


@_jit
def _loop(form, micro, A, B, out, n):
    for _ in range(n):
        if form == 0:
            if micro:
                products.call_c("small_nn", A, B, out)
            else:
                products.matmul(A, B, out, False, False)
        elif form == 1:
            if micro:
                products.call_c("small_tn", A, B, out)
            else:
                products.matmul(A, B, out, True, False)
        elif micro:
            products.call_c("small_nt", A, B, out)
        else:
            products.matmul(A, B, out, False, True)


def _seconds(form, micro, A, B, out, min_seconds=0.01):
    _loop(form, micro, A, B, out, 1)
    n, elapsed = 1, 0.0
    while elapsed < min_seconds:
        n *= 4
        start = time.perf_counter()
        _loop(form, micro, A, B, out, n)
        elapsed = time.perf_counter() - start
    runs = []
    for _ in range(7):
        start = time.perf_counter()
        _loop(form, micro, A, B, out, n)
        runs.append((time.perf_counter() - start) / n)
    return float(np.median(runs))


def measure(rows=ROWS, layers=LAYERS, dtype=np.float32):
    """Rows ``(product, shape, blas_s, micro_s, chosen_micro)`` for every batch size and
    layer ``(fan_in, fan_out)``: forward ``A @ W``, gradient ``A.T @ D``, delta ``D @ W.T``."""
    for name in ("small_nn", "small_tn", "small_nt"):  # whichever the layers would load
        products.ensure_c_function(name)
    rng = np.random.default_rng(0)
    results = []
    for fan_in, fan_out in layers:
        W = rng.standard_normal((fan_in, fan_out)).astype(dtype)
        for n in rows:
            A = rng.standard_normal((n, fan_in)).astype(dtype)
            D = rng.standard_normal((n, fan_out)).astype(dtype)
            cases = (
                ("A @ W", 0, A, W, (n, fan_out), products.micro_nn_wins(n, fan_in, fan_out)),
                ("A.T @ D", 1, A, D, (fan_in, fan_out), products.micro_tn_wins(n, fan_in, fan_out)),
                ("D @ W.T", 2, D, W, (n, fan_in), products.micro_nt_wins(n, fan_in, fan_out)),
            )
            for name, form, X, Y, shape, chosen in cases:
                out = np.empty(shape, dtype)
                blas = _seconds(form, False, X, Y, out)
                micro = _seconds(form, True, X, Y, out)
                results.append((name, f"{n}x{fan_in}x{fan_out}", blas, micro, chosen))
    return results


def format_results(results):
    lines = ["| product | rows x fan_in x fan_out | BLAS us | micro us | chosen |"]
    lines.append("|---|---|---:|---:|---|")
    for name, shape, blas, micro, chosen in results:
        faster = "micro" if micro < blas else "BLAS"
        slower_by = max(blas, micro) / min(blas, micro)
        pick = "micro" if chosen else "BLAS"
        flag = " !" if pick != faster and slower_by > 1.1 else ""
        lines.append(f"| {name} | {shape} | {blas * 1e6:.2f} | {micro * 1e6:.2f} | {pick}{flag} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    args = parser.parse_args(argv)
    with threadpool_limits(args.threads):
        results = measure()
    print(
        f"float32, {args.threads} BLAS thread(s), micro-kernel profile "
        f"{config.MICRO_KERNELS!r} (FASTMLP_MICRO_KERNELS):"
    )
    print(format_results(results))


if __name__ == "__main__":
    main()
