"""Compilation settings shared by every kernel (patched in tests, as stumpy does).

FASTMATH allows reassociation and contraction (faster reductions and FMA) but deliberately
leaves out ``nnan`` and ``ninf``: NaN and inf must still propagate so that divergence is
detected instead of silently producing garbage.
"""

FASTMATH = {"nsz", "arcp", "contract", "reassoc"}

# Options of every CPU kernel. error_model="numpy" makes x / 0 give inf or nan instead of
# raising ZeroDivisionError: without it the zero check blocks SIMD vectorisation of every
# loop that divides (Adam's update ran 4x slower), and NaN/inf are caught after the epoch.
KERNEL = {"cache": True, "fastmath": FASTMATH, "error_model": "numpy"}

# Small helpers are inlined into their callers at the Numba IR level, where calls with
# constant arguments then specialise (a 10-32-1 forward: 530 ns -> 220 ns). The layer
# functions holding BLAS calls, and the batch loss-and-gradient that train_epoch and
# loss_and_grad share, stay separate: inlining them too doubled compile time
# (train_epoch 8 -> 14 s) for no measurable gain at run time.
INLINE = {**KERNEL, "inline": "always"}

# Matrix products with at most this many multiply-adds use hand loops instead of BLAS:
# below it a BLAS call costs more than its work (measured: 1x10 @ 10x32 takes 0.04 us in
# loops, 0.08 us in sgemm); above it sgemm wins, already 4x at 16x20 @ 20x64.
SMALL_GEMM = 512

# Flush denormal floats to zero inside the entry kernels (see cpu/fpenv.py).
FLUSH_DENORMALS = True
