"""How the CUDA kernels are compiled and launched.

Every kernel is built per floating-point type by a cached factory (``per_dtype``): shared
memory arrays and scalar casts need the type as a compile-time constant. Kernels are
compiled lazily on their first launch (one compilation per argument types), and only ever
imported when a CUDA device was asked for.

``FASTMLP_FASTMATH`` (config.py) maps onto CUDA's fast-math switch: float32 denormals
flush to zero and division and square root use the approximate instructions; float64 is
unaffected, which keeps float64 results within round-off of the CPU target's.
"""

import functools
import math

import numpy as np
from numba import config, cuda, from_dtype

from ..config import FASTMATH

FAST = bool(FASTMATH)

# Numba's CUDA simulator runs every thread as a Python thread: the same kernels run there
# with smaller blocks (the code is written for any power-of-two sizes), so that the tests
# cover several blocks and partial tiles on tiny shapes in seconds.
SIMULATOR = bool(config.ENABLE_CUDASIM)
TILE = 4 if SIMULATOR else 16  # square tile of the matrix products: TILE x TILE threads
THREADS = 32 if SIMULATOR else 256  # threads a block, element-wise kernels and reductions
PADDED = TILE + 1  # row length of a tile stored transposed (a shared-memory bank apart)
MAX_BLOCKS = 1024  # grid-stride kernels never launch more blocks than this
RNG_STREAMS = 256 if SIMULATOR else 8192  # dropout random streams (one per thread)
# The weight-gradient products split the batch across slices (then summed in a fixed order)
# when their tiles alone would leave the GPU idle: at most one slice per SPLIT_ROWS rows,
# and only as many as bring the launch to about SPLIT_BLOCKS blocks (2 per SM of an H100).
SPLIT_ROWS = 8 if SIMULATOR else 1024
SPLIT_BLOCKS = 2 if SIMULATOR else 264
# The fully fused small-width path (fused.py): float32 networks whose every layer, input
# and output included, has at most FUSED_WIDTH units; a block of FUSED_WIDTH threads runs
# FUSED_ROWS batch rows through every layer.
FUSED_WIDTH = 8 if SIMULATOR else 128
FUSED_ROWS = 4 if SIMULATOR else 16


def kernel(fn):
    """A CUDA kernel, compiled on first launch for its argument types."""
    return cuda.jit(fastmath=FAST)(fn)


def device(fn):
    """A device function, inlined into the kernels that call it (the simulator takes no
    inlining option)."""
    inlining = {} if SIMULATOR else {"forceinline": True}
    return cuda.jit(device=True, fastmath=FAST, **inlining)(fn)


def per_dtype(factory):
    """Cache ``factory(float_t)`` per NumPy dtype: ``build(np.float32)`` etc."""

    @functools.cache
    def build(dtype):
        return factory(from_dtype(np.dtype(dtype)))

    return build


def blocks(n, threads=THREADS):
    """Blocks of a grid-stride launch over ``n`` elements."""
    return max(1, min(MAX_BLOCKS, math.ceil(n / threads)))


def splits(n_rows, n_blocks):
    """Slices of the batch for a weight-gradient launch of ``n_blocks`` tiles."""
    return max(1, min(math.ceil(n_rows / SPLIT_ROWS), math.ceil(SPLIT_BLOCKS / n_blocks)))


def tiles(n_rows, n_cols):
    """(grid, block) of a tiled launch over an ``n_rows x n_cols`` output."""
    return (math.ceil(n_cols / TILE), math.ceil(n_rows / TILE)), (TILE, TILE)
