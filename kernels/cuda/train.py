"""A training epoch on a CUDA device: per minibatch, gather, forward, loss, backward,
regularise, gradient norm and clipping, update, diagnostics.

The host only queues kernels: the divergence flag, the step count, the clipping factor
and the statistics live in device memory, written by a one-thread ``finish_step`` kernel
and read by the launches after it. After the first non-finite loss or gradient the rest
of the epoch's updates and statistics are skipped on the device (the CPU kernels stop
there), so the parameters stay those of the last finite step; a last pass over the
parameters flags the epoch as diverged too when an update left one of them non-finite
(the CPU's training loop checks that on the host, where its parameters are). Every kernel
argument of an epoch is a device array or a scalar: per epoch only the sample order, the
hyperparameters and the step count cross to the device, and the statistics, the
diagnostics and the step count come back; the data, the parameters and the dropout
generators' states stay on the device for the whole fit.
"""

import math
from collections import namedtuple

import numpy as np
from numba import cuda, float64
from numba.cuda.random import create_xoroshiro128p_states

from ..codes import LEAKY_RELU, RELU
from ..layout import (
    B_START,
    CODE,
    FAN_OUT,
    HP_MAX_NORM,
    STAT_BATCHES,
    STAT_DIVERGED,
    STAT_GRAD_NORM,
    STAT_LOSS,
    UNIT_START,
)
from . import optimizers
from .jit import RNG_STREAMS, THREADS, blocks, device, kernel
from .network import as_device, batch_loss_and_grad, block
from .reduce import block_sum, layer_squares
from .slots import RED_BATCH_LOSS, RED_CLIP

# As on the CPU: optimizer state in the parameters' layout (device arrays); step: a
# one-element host array, the update count (it crosses once per epoch).
OptState = namedtuple("OptState", ["solver", "state1", "state2", "step"])
# Device row buffers a minibatch is gathered into (rows = the batch size).
Batch = namedtuple("Batch", ["X", "Y", "sw"])

_Diagnostics = namedtuple("Diagnostics", ["enabled", "peak", "layer_grad_norms", "stats", "device"])


class Diagnostics(_Diagnostics):
    """Per-epoch diagnostics as on the CPU: ``peak``, ``layer_grad_norms`` and ``stats`` are
    host arrays (the training loop reads them); ``device`` holds their device twins, which
    the epoch zeroes, accumulates into and copies back when it ends. ``peak`` and
    ``layer_grad_norms`` are None when not wanted (as on the CPU); their twins then hold one
    unused element, so every kernel still gets an array."""

    __slots__ = ()

    def __new__(cls, enabled, peak, layer_grad_norms, stats):
        twins = tuple(
            cuda.to_device(np.zeros(1) if a is None else a) for a in (peak, layer_grad_norms, stats)
        )
        return super().__new__(cls, enabled, peak, layer_grad_norms, stats, twins)


@kernel
def gather(X, Y, sw, order, start, rows, xb, yb, swb):
    """``xb, yb, swb <- X, Y, sw`` at rows ``order[start : start + rows]`` (sw if any)."""
    d_in = X.shape[1]
    d_out = Y.shape[1]
    width = d_in + d_out + (1 if sw.size > 0 else 0)
    for idx in range(cuda.grid(1), rows * width, cuda.gridsize(1)):
        i = idx // width
        j = idx - i * width
        r = order[start + i]
        if j < d_in:
            xb[i, j] = X[r, j]
        elif j < d_in + d_out:
            yb[i, j - d_in] = Y[r, j - d_in]
        else:
            swb[i] = sw[r]


@kernel
def finish_step(hp, red, layer_sq, layer_norms, stats, step, rows, norms_on):
    """One thread, after a batch's gradient: the gradient norm (per layer and global), the
    clipping factor, the divergence flag, the step count and the epoch's sums. Nothing
    once an earlier batch diverged."""
    if cuda.grid(1) != 0 or stats[STAT_DIVERGED] != 0.0:
        return
    loss = red[RED_BATCH_LOSS]
    red[RED_CLIP] = 1.0
    if norms_on:
        total = 0.0
        for l in range(layer_sq.size):
            layer_norms[l] += math.sqrt(layer_sq[l])
            total += layer_sq[l]
        norm = math.sqrt(total)
        stats[STAT_GRAD_NORM] += norm
        max_norm = hp[HP_MAX_NORM]
        if math.isinf(norm) or math.isnan(norm):
            stats[STAT_DIVERGED] = 1.0
        elif max_norm > 0.0 and norm > max_norm:
            red[RED_CLIP] = max_norm / norm
    if math.isinf(loss) or math.isnan(loss) or stats[STAT_DIVERGED] != 0.0:
        stats[STAT_DIVERGED] = 1.0
        return
    step[0] += 1
    stats[STAT_LOSS] += loss * rows
    stats[STAT_BATCHES] += 1.0


@kernel
def track_peaks(A, peak, offset, stats):
    """Raise each unit's running peak output with this batch's rows (one thread a unit)."""
    j = cuda.grid(1)
    n, width = A.shape
    if j >= width or stats[STAT_DIVERGED] != 0.0:
        return
    top = peak[offset + j]
    for i in range(n):
        top = max(top, A[i, j])
    peak[offset + j] = top


@kernel
def zero_diagnostics(peak, layer_norms, stats):
    """Zero the epoch's accumulators on the device (nothing crosses to start an epoch)."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for k in range(start, peak.size, stride):
        peak[k] = 0.0
    for k in range(start, layer_norms.size, stride):
        layer_norms[k] = 0.0
    for k in range(start, stats.size, stride):
        stats[k] = 0.0


@kernel
def zero_fill(a):
    """``a <- 0`` (a flat array)."""
    for k in range(cuda.grid(1), a.size, cuda.gridsize(1)):
        a[k] = 0.0


def zeros(shape, dtype):
    """A 1-D device array of zeros, zeroed on the device (nothing crosses: optimizer
    state starts this way)."""
    array = cuda.device_array(shape, dtype=dtype)
    if array.size:
        zero_fill[blocks(array.size), THREADS](array)
    return array


@kernel
def flag_non_finite(params, stats):
    """``stats[STAT_DIVERGED] <- 1`` when a parameter is NaN or infinite (every thread that
    finds one writes the same value)."""
    for k in range(cuda.grid(1), params.size, cuda.gridsize(1)):
        if math.isinf(params[k]) or math.isnan(params[k]):
            stats[STAT_DIVERGED] = 1.0


@device
def _run_sums(params, previous, start, end, shared):
    """Block sums of ``(params - previous)**2`` and ``params**2`` over ``[start, end)``."""
    moved = 0.0
    size = 0.0
    for k in range(start + cuda.threadIdx.x, end, THREADS):
        step = params[k] - previous[k]  # in the parameters' type, as on the host
        moved += step * step
        size += params[k] * params[k]
    return block_sum(moved, shared), block_sum(size, shared)


@kernel
def update_sums(params, previous, runs, out):
    """Block l: ``out[l] <- (sum of (params - previous)**2, sum of params**2)`` over layer
    l's runs of the flat buffer (``runs[l]``: start and end of up to two runs; an empty run
    has start == end): the parts of the per-layer update ratios."""
    shared = cuda.shared.array(THREADS, float64)
    l = cuda.blockIdx.x
    moved, size = _run_sums(params, previous, runs[l, 0], runs[l, 1], shared)
    moved2, size2 = _run_sums(params, previous, runs[l, 2], runs[l, 3], shared)
    if cuda.threadIdx.x == 0:
        out[l, 0] = moved + moved2
        out[l, 1] = size + size2


def update_ratio_sums(params, previous, runs, out):
    """Launch :func:`update_sums` into the device array ``out`` (n_layers x 2) and return
    it on the host (the only copy: 16 bytes a layer)."""
    update_sums[runs.shape[0], THREADS](params, previous, runs, out)
    return out.copy_to_host()


def copy_params(destination, source):
    """``destination <- source``, both on the device (a copy within device memory)."""
    destination.copy_to_device(source)


def _seed_dropout(ws, seed):
    """Seed the dropout generators on the workspace's first epoch (a fit's): later epochs
    continue their streams on the device. Seeding builds the states on the host (Numba's
    jump-ahead, which keeps the streams apart) and copies them over, 16 bytes a stream, so
    re-seeding every epoch would move RNG_STREAMS x 16 bytes (128 KiB) an epoch."""
    if ws.scratch.rng is None:
        ws.scratch.rng = create_xoroshiro128p_states(RNG_STREAMS, seed)


def _peaks(model, ws, rows, peak, stats):
    layers = model.layers
    for l in range(layers.shape[0] - 1):
        if layers[l, CODE] in (RELU, LEAKY_RELU):
            width = int(layers[l, FAN_OUT])
            A = block(ws.acts, ws.capacity, layers, l, rows)
            track_peaks[blocks(width), THREADS](A, peak, int(layers[l, UNIT_START]), stats)


def train_epoch(model, grad, opt, hp, X, Y, sw, order, batch_size, seed, batch, ws, diag):
    """One pass over ``X[order]`` in minibatches of ``batch_size`` (the last may be short).

    The CPU kernel's semantics on device arrays (host arrays are copied first); the
    accumulators in ``diag`` start from zero. ``seed`` seeds the dropout masks on the
    workspace's first epoch only; later epochs continue the generators' streams. The
    statistics, diagnostics and step count are copied back into ``diag`` and
    ``opt.step``; ``stats[STAT_DIVERGED]`` is also set when a parameter ends the epoch
    non-finite.
    """
    X, Y, sw, order = (as_device(a) for a in (X, Y, sw, order))
    hp = np.asarray(hp, dtype=np.float64)
    scratch = ws.scratch
    scratch.hp.copy_to_device(hp)
    peak, layer_norms, stats = diag.device
    zero_diagnostics[1, THREADS](peak, layer_norms, stats)
    scratch.step.copy_to_device(opt.step)
    if ws.dropout.size and np.any(ws.dropout > 0):
        _seed_dropout(ws, seed)
    layers = model.layers
    if scratch.layer_sq is None or scratch.layer_sq.size != layers.shape[0]:
        scratch.layer_sq = cuda.device_array(layers.shape[0], dtype=np.float64)
    norms_on = bool(diag.enabled or hp[HP_MAX_NORM] > 0.0)
    update = optimizers.build(model.params.dtype)
    n_weights = int(layers[0, B_START])
    weighted = sw.size > 0
    n = order.size
    width = X.shape[1] + Y.shape[1] + 1
    for start in range(0, n, batch_size):
        rows = min(batch_size, n - start)
        gather[blocks(rows * width), THREADS](
            X, Y, sw, order, start, rows, batch.X, batch.Y, batch.sw
        )
        swb = batch.sw[:rows] if weighted else batch.sw[:0]
        batch_loss_and_grad(
            model, grad, batch.X[:rows], batch.Y[:rows], swb, hp, scratch.hp, ws, rows
        )
        if norms_on:
            layer_squares[layers.shape[0], THREADS](grad, model.device_layers, scratch.layer_sq)
        finish_step[1, 1](
            scratch.hp,
            scratch.red,
            scratch.layer_sq,
            layer_norms,
            stats,
            scratch.step,
            rows,
            norms_on,
        )
        if diag.enabled:
            _peaks(model, ws, rows, peak, stats)
        update[blocks(model.params.size), THREADS](
            opt.solver,
            model.params,
            grad,
            opt.state1,
            opt.state2,
            scratch.step,
            scratch.hp,
            n_weights,
            scratch.red,
            stats,
        )
    flag_non_finite[blocks(model.params.size), THREADS](model.params, stats)
    for host, twin in zip((diag.peak, diag.layer_grad_norms, diag.stats), diag.device):
        if host is not None:
            twin.copy_to_host(host)
    scratch.step.copy_to_host(opt.step)
