"""The whole training epoch as one compiled call: gather, forward, loss, backward,
regularise, clip, update, and the diagnostics, for every minibatch.

Nothing in Python runs per minibatch. The sample order comes from the caller (so the
shuffles can follow scikit-learn's random stream); dropout masks come from Numba's own
generator, seeded per epoch.
"""

import math

import numpy as np
from numba import njit

from ..codes import HP_MAX_NORM, LEAKY_RELU, RELU
from ..config import FASTMATH
from .network import bias_start, block_view, loss_and_grad, n_weights, sum_squares, weight_start
from .optimizers import optimizer_update

# Slots of the per-epoch statistics vector.
STAT_LOSS = 0  # sum over batches of batch loss x batch length
STAT_GRAD_NORM = 1  # sum over batches of the global gradient norm (before clipping)
STAT_BATCHES = 2
STAT_DIVERGED = 3  # 1 when a batch loss or gradient was not finite (epoch stopped there)
N_STATS = 4


@njit(cache=True)
def gather_rows(src, order, start, stop, dst):
    """dst[:stop-start] <- src[order[start:stop]]."""
    for i in range(stop - start):
        dst[i, :] = src[order[start + i], :]


@njit(cache=True, fastmath=FASTMATH)
def layer_grad_norms_sq(grad, sizes, out):
    """Accumulate each layer's squared gradient norm (weights and intercepts) into ``out``."""
    total = 0.0
    for l in range(sizes.size - 1):
        w0 = weight_start(sizes, l)
        b0 = bias_start(sizes, l)
        sq = sum_squares(grad, w0, w0 + sizes[l] * sizes[l + 1])
        sq += sum_squares(grad, b0, b0 + sizes[l + 1])
        out[l] += math.sqrt(sq)
        total += sq
    return total


@njit(cache=True)
def mark_active(acts, sizes, codes, n, active):
    """Flag hidden relu-family units that were positive for some sample of the batch."""
    offset = 0
    for l in range(sizes.size - 2):
        width = sizes[l + 1]
        if codes[l] == RELU or codes[l] == LEAKY_RELU:
            A = block_view(acts, sizes, l, n)
            for i in range(n):
                for j in range(width):
                    if A[i, j] > 0.0:
                        active[offset + j] = True
        offset += width


@njit(cache=True, fastmath=FASTMATH)
def scale(x, factor):
    for k in range(x.size):
        x[k] *= factor


@njit(cache=True, fastmath=FASTMATH)
def train_epoch(
    params, grad, state1, state2, step, sizes, codes, act_params, loss_code, solver, hp,
    X, Y, sw, order, batch_size, dropout, seed, Xb, Yb, swb, acts, deltas, masks,
    diagnostics, active, layer_grad_norms, stats,
):
    """One pass over ``X[order]`` in minibatches of ``batch_size`` (the last may be short).

    ``step`` is a one-element array holding the number of updates so far (adam's t).
    ``stats`` receives the STAT_* sums; ``layer_grad_norms`` the per-layer norm sums; and
    ``active`` the hidden units that fired, when ``diagnostics`` is set.
    """
    np.random.seed(seed)
    n = order.size
    nw = n_weights(sizes)
    weighted = sw.size > 0
    max_norm = hp[HP_MAX_NORM]
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        rows = stop - start
        xb = Xb[:rows]
        yb = Yb[:rows]
        gather_rows(X, order, start, stop, xb)
        gather_rows(Y, order, start, stop, yb)
        swv = swb[:rows] if weighted else swb[:0]
        if weighted:
            for i in range(rows):
                swv[i] = sw[order[start + i]]
        loss = loss_and_grad(
            params, grad, sizes, codes, act_params, loss_code, xb, yb, swv, hp, acts, deltas,
            dropout, masks,
        )
        if diagnostics or max_norm > 0.0:
            norm = math.sqrt(layer_grad_norms_sq(grad, sizes, layer_grad_norms))
            stats[STAT_GRAD_NORM] += norm
            if max_norm > 0.0 and norm > max_norm:
                scale(grad, max_norm / norm)
            if not math.isfinite(norm):
                stats[STAT_DIVERGED] = 1.0
        if not math.isfinite(loss) or stats[STAT_DIVERGED] != 0.0:
            stats[STAT_DIVERGED] = 1.0
            return
        if diagnostics:
            mark_active(acts, sizes, codes, rows, active)
        step[0] += 1
        optimizer_update(solver, params, grad, state1, state2, step[0], hp, nw)
        stats[STAT_LOSS] += loss * rows
        stats[STAT_BATCHES] += 1.0
