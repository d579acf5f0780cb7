"""Reductions on a CUDA device: sample-weight total, summed row losses, the regularisers'
sums (and the L1 subgradient), each layer's squared gradient norm.

Each reduction runs in a single block of THREADS threads (one block per layer for the
norms): every thread accumulates a strided share in float64, then the block sums the
shares in a fixed tree. The order of additions depends only on the sizes, so results are
reproducible from run to run (no atomics); these reductions read each element once and
are a small part of a step.
"""

from numba import cuda, float64

from ..layout import B_START, FAN_IN, FAN_OUT, HP_ALPHA, HP_L1, W_START
from .jit import THREADS, device, kernel
from .slots import RED_SUM_ABS, RED_SUM_SQUARES, RED_SW_SUM


@device
def block_sum(value, shared):
    """The sum of ``value`` over the block's threads (every thread gets it)."""
    t = cuda.threadIdx.x
    shared[t] = value
    cuda.syncthreads()
    half = THREADS // 2
    while half > 0:
        if t < half:
            shared[t] += shared[t + half]
        cuda.syncthreads()
        half //= 2
    total = shared[0]
    cuda.syncthreads()
    return total


@kernel
def weight_total(sw, n, red):
    """``red[RED_SW_SUM] <- S``: the weights' total, or ``n`` for unit weights (empty sw)."""
    shared = cuda.shared.array(THREADS, float64)
    acc = 0.0
    for k in range(cuda.threadIdx.x, sw.size, THREADS):
        acc += sw[k]
    total = block_sum(acc, shared)
    if cuda.threadIdx.x == 0:
        red[RED_SW_SUM] = total if sw.size > 0 else float(n)


@kernel
def sum_into(x, n, red, slot):
    """``red[slot] <- sum(x[:n])``."""
    shared = cuda.shared.array(THREADS, float64)
    acc = 0.0
    for k in range(cuda.threadIdx.x, n, THREADS):
        acc += x[k]
    total = block_sum(acc, shared)
    if cuda.threadIdx.x == 0:
        red[slot] = total


@kernel
def regularise(params, grad, n_weights, hp, red):
    """The regularisers over the weights (params' prefix): ``red`` gets sum(W**2) (with
    alpha) and sum(|W|) (with l1); the L1 subgradient ``(l1 / S) sign(w)`` is added to
    ``grad``."""
    shared = cuda.shared.array(THREADS, float64)
    alpha = hp[HP_ALPHA]
    l1 = hp[HP_L1]
    coef = l1 / red[RED_SW_SUM]
    squares = 0.0
    absolute = 0.0
    for k in range(cuda.threadIdx.x, n_weights, THREADS):
        w = params[k]
        squares += w * w
        absolute += abs(w)
        if l1 != 0.0:
            if w > 0:
                grad[k] += coef
            elif w < 0:
                grad[k] -= coef
    squares = block_sum(squares, shared)
    absolute = block_sum(absolute, shared)
    if cuda.threadIdx.x == 0:
        red[RED_SUM_SQUARES] = squares if alpha != 0.0 else 0.0
        red[RED_SUM_ABS] = absolute if l1 != 0.0 else 0.0


@kernel
def layer_squares(grad, layers, out):
    """Block l: ``out[l] <- ||layer l's gradient||^2`` (weights and intercepts)."""
    shared = cuda.shared.array(THREADS, float64)
    l = cuda.blockIdx.x
    w = layers[l, W_START]
    b = layers[l, B_START]
    fan_out = layers[l, FAN_OUT]
    acc = 0.0
    for k in range(w + cuda.threadIdx.x, w + layers[l, FAN_IN] * fan_out, THREADS):
        acc += grad[k] * grad[k]
    for k in range(b + cuda.threadIdx.x, b + fan_out, THREADS):
        acc += grad[k] * grad[k]
    total = block_sum(acc, shared)
    if cuda.threadIdx.x == 0:
        out[l] = total
