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

# Small helpers, and the batch loss-and-gradient, are inlined into their callers at the
# Numba IR level, where calls with constant arguments then specialise (a 10-32-1 forward:
# 530 ns -> 220 ns) and nothing is compiled twice. The layer functions (dense.py,
# losses.py, optimizers.py) stay separately compiled: inlining them costs more compilation
# than it saves (the fused forward alone: cold first fit 5.95 -> 6.62 s), with no
# measurable gain at run time.
INLINE = {**KERNEL, "inline": "always"}

# Flush denormal floats to zero inside the entry kernels (see cpu/fpenv.py).
FLUSH_DENORMALS = True
