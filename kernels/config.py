"""Compilation settings shared by every kernel (patched in tests, as stumpy does).

FASTMATH allows reassociation and contraction (faster reductions and FMA) but deliberately
leaves out ``nnan`` and ``ninf``: NaN and inf must still propagate so that divergence is
detected instead of silently producing garbage.
"""

FASTMATH = {"nsz", "arcp", "contract", "reassoc"}

# CUDA launch configuration.
THREADS_PER_BLOCK = 128
