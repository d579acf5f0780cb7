"""The whole training epoch as one compiled call: gather, forward, loss, backward,
regularise, clip, update, and the diagnostics, for every minibatch.

Nothing in Python runs per minibatch. The sample order comes from the caller (so the
shuffles can follow scikit-learn's random stream); dropout masks come from Numba's own
generator, seeded per epoch.
"""

import math
from collections import namedtuple

import numpy as np
from numba import types
from numba.extending import overload

from ..codes import LEAKY_RELU, RELU
from ..layout import (
    CODE,
    DENSE,
    HP_MAX_NORM,
    KIND,
    STAT_BATCHES,
    STAT_DIVERGED,
    STAT_GRAD_NORM,
    STAT_LOSS,
    UNIT_START,
)
from .fpenv import flush_denormals, restore_fpenv
from .jit import INTERNAL, inline, kernel
from .network import batch_loss_and_grad, n_weights, sum_squares
from .optimizers import update_params
from .views import block, run_view

# Optimizer state in the parameters' layout; step: one-element array, the update count.
OptState = namedtuple("OptState", ["solver", "state1", "state2", "step"])
# Row buffers a minibatch is gathered into (rows = the batch size).
Batch = namedtuple("Batch", ["X", "Y", "sw"])
# Per-epoch diagnostics: `peak` holds each hidden unit's largest output (a relu-family
# unit whose peak stays 0 never fired), `layer_grad_norms` and `stats` (the STAT_* slots)
# receive sums over the epoch's batches. `peak` is None unless `enabled`, and
# `layer_grad_norms` None unless `enabled` or the gradient is clipped: the epoch kernel
# compiles only what it is given (see grad_norm_if_any).
Diagnostics = namedtuple("Diagnostics", ["enabled", "peak", "layer_grad_norms", "stats"])


@inline
def gather_rows(src, order, start, stop, dst):
    """dst[:stop-start] <- src[order[start:stop]].

    Element loops, not ``dst[i, :] = src[r, :]``: Numba compiles slice assignment through
    its general broadcasting machinery, which alone took 2.4 s of a cold first fit.
    """
    width = src.shape[1]
    for i in range(stop - start):
        row = order[start + i]
        for j in range(width):
            dst[i, j] = src[row, j]


@inline
def grad_norm(grad, layers, layer_norms):
    """Global L2 norm of the gradient; adds each layer's norm to ``layer_norms``.

    Each layer's weights, its intercepts and its extra blocks (batch norm, PReLU) are
    contiguous runs of the flat gradient (one long vectorised reduction each, not one per
    matrix row), summed by one loop (one inlined copy of the reduction to compile). Summing
    the squares inside the optimizer's update instead, run by run, made the update 40%
    slower than this pass costs (small runs: 20-64-64-2 has nine).
    """
    total = 0.0
    for l in range(layers.shape[0]):
        sq = 0.0
        for r in range(3):
            sq += sum_squares(run_view(grad, layers, l, r))
        layer_norms[l] += math.sqrt(sq)
        total += sq
    return math.sqrt(total)


@inline
def raise_peaks(A, top):
    """``top[j] <- max(top[j], A[:, j])``, four rows a pass over ``top``: one row a pass
    chains every row through ``top``'s memory, and ran 3.5x slower (16 x 64: 190 -> 55 ns).
    A last pass of fewer rows repeats its last row (harmless in a max): one loop to compile.
    """
    rows, width = A.shape
    last = rows - 1
    for i in range(0, rows, 4):
        a, b, c, d = i, min(i + 1, last), min(i + 2, last), min(i + 3, last)
        for j in range(width):
            top[j] = max(top[j], max(max(A[a, j], A[b, j]), max(A[c, j], A[d, j])))


@inline
def track_peaks(model, ws, n, peak):
    """Raise each hidden relu-family unit's running peak output with this batch's rows.

    PReLU units are skipped: a learned negative-side slope passes gradient everywhere.
    A running max (not a branch that sets a flag) so the loop vectorises.
    """
    layers = model.layers
    for l in range(layers.shape[0] - 1):
        if layers[l, CODE] != RELU and layers[l, CODE] != LEAKY_RELU:
            continue
        A = block(ws.acts, ws.capacity, layers, l, n)
        start = layers[l, UNIT_START]
        raise_peaks(A, peak[start : start + A.shape[1]])  # a view: see views.run_view


def grad_norm_if_any(grad, layers, layer_norms):
    """:func:`grad_norm`, or 0.0 when ``layer_norms`` is None (no diagnostics, no clipping).

    Compiled code gets the overload below, which decides by ``layer_norms``'s type, so an
    epoch that needs no gradient norm compiles none (~0.4 s of a cold first fit); this
    body says the same in Python.
    """
    return 0.0 if layer_norms is None else grad_norm(grad, layers, layer_norms)


@overload(grad_norm_if_any, jit_options=INTERNAL, inline="always")
def _grad_norm_if_any(grad, layers, layer_norms):
    if isinstance(layer_norms, types.NoneType):
        return lambda grad, layers, layer_norms: 0.0
    return lambda grad, layers, layer_norms: grad_norm(grad, layers, layer_norms)


def track_peaks_if_any(model, ws, n, peak):
    """:func:`track_peaks`, or nothing when ``peak`` is None (see :func:`grad_norm_if_any`)."""
    if peak is not None:
        track_peaks(model, ws, n, peak)


@overload(track_peaks_if_any, jit_options=INTERNAL, inline="always")
def _track_peaks_if_any(model, ws, n, peak):
    if isinstance(peak, types.NoneType):
        return lambda model, ws, n, peak: None
    return lambda model, ws, n, peak: track_peaks(model, ws, n, peak)


def seed_if_dropout(dropout, seed):
    """Seed the dropout masks' random numbers, or nothing without dropout (None: see
    network.has_dropout)."""
    if dropout is not None:
        np.random.seed(seed)


@overload(seed_if_dropout, jit_options=INTERNAL, inline="always")
def _seed_if_dropout(dropout, seed):
    if isinstance(dropout, types.NoneType):
        return lambda dropout, seed: None
    return lambda dropout, seed: np.random.seed(seed)


@inline
def scale(x, factor):
    for k in range(x.size):
        x[k] *= factor


@inline
def has_batch_norm(layers):
    for l in range(layers.shape[0]):
        if layers[l, KIND] != DENSE:
            return True
    return False


@kernel
def train_epoch(model, grad, opt, hp, X, Y, sw, order, batch_size, seed, batch, ws, diag):
    """One pass over ``X[order]`` in minibatches of ``batch_size`` (the last may be short).

    With batch norm, a last minibatch of one row (which cannot be normalised) joins the one
    before it (``batch`` and ``ws`` then need room for ``batch_size + 1`` rows), and each
    minibatch's statistics update the running ones when ``model.bn`` says so.
    A minibatch whose sample weights are all zero is skipped (no update, no step counted).
    Stops early, flagging ``STAT_DIVERGED``, at the first non-finite loss or gradient.
    """
    saved = flush_denormals()
    seed_if_dropout(ws.dropout, seed)
    n = order.size
    nw = n_weights(model)
    weighted = sw.size > 0
    max_norm = hp[HP_MAX_NORM]
    stats = diag.stats
    merge_single = has_batch_norm(model.layers)
    start = 0
    while start < n:
        stop = min(start + batch_size, n)
        if merge_single and n - stop == 1:
            stop = n
        rows = stop - start
        xb = batch.X[:rows]
        yb = batch.Y[:rows]
        gather_rows(X, order, start, stop, xb)
        gather_rows(Y, order, start, stop, yb)
        swb = batch.sw[:rows] if weighted else batch.sw[:0]
        if weighted:
            batch_weight = 0.0
            for i in range(rows):
                swb[i] = sw[order[start + i]]
                batch_weight += swb[i]
            if batch_weight == 0.0:  # no sample of the batch counts: nothing to learn from
                start = stop
                continue
        loss = batch_loss_and_grad(model, grad, xb, yb, swb, hp, ws)
        norm = grad_norm_if_any(grad, model.layers, diag.layer_grad_norms)
        stats[STAT_GRAD_NORM] += norm
        if not math.isfinite(norm):
            stats[STAT_DIVERGED] = 1.0
        elif max_norm > 0.0 and norm > max_norm:
            scale(grad, max_norm / norm)
        if not math.isfinite(loss) or stats[STAT_DIVERGED] != 0.0:
            stats[STAT_DIVERGED] = 1.0
            break
        track_peaks_if_any(model, ws, rows, diag.peak)
        opt.step[0] += 1
        update_params(opt.solver, model.params, grad, opt.state1, opt.state2, opt.step[0], hp, nw)
        stats[STAT_LOSS] += loss * rows
        stats[STAT_BATCHES] += 1.0
        start = stop
    restore_fpenv(saved)
