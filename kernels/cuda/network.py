"""Whole-network operations on a CUDA device: forward, loss and gradient of a batch.

The buffers and the layer table are the CPU target's (layout.py): one flat parameter
buffer, flat workspaces with one (capacity, fan_out) block per layer. The host walks the
layer table and launches one kernel per layer and step of the computation; every
intermediate (activations, deltas, the batch's loss and weight total) stays in device
memory, so a batch's kernels queue back to back without the host waiting on any of them.
"""

import math
from collections import namedtuple

import numpy as np
from numba import cuda

from ..codes import SOFTMAX
from ..layout import (
    B_START,
    CODE,
    DENSE,
    FAN_IN,
    FAN_OUT,
    HP_ALPHA,
    HP_L1,
    HP_LOSS_SCALE,
    KIND,
    N_HP,
    N_STATS,
    NONE,
    PREDICT_BAD_INPUT,
    PREDICT_OK,
    PREDICT_OVERFLOW,
    SLOPE_START,
    UNIT_START,
    W_START,
)
from . import dense, losses, optimizers
from . import fused as fused_kernels
from .jit import FUSED_ROWS, FUSED_WIDTH, THREADS, blocks, kernel, splits, tiles
from .reduce import regularise, sum_into, weight_total
from .slots import N_RED, RED_BATCH_LOSS, RED_LOSS, RED_SUM_ABS, RED_SUM_SQUARES, RED_SW_SUM

_Model = namedtuple(
    "Model",
    [
        "params",
        "layers",
        "act_params",
        "loss_code",
        "device_layers",
        "device_act_params",
        "state",
        "bn",
    ],
)

# The fully fused small-width path (fused.py) runs where it can; False: always per layer.
FUSED_ENABLED = True


def is_device_array(array):
    """Whether ``array`` lives on the device (also in the simulator, which lacks
    ``cuda.is_cuda_array``)."""
    return hasattr(array, "copy_to_host")


def as_device(array):
    """``array`` on the device: itself when it already is, else a copy."""
    return array if is_device_array(array) else cuda.to_device(np.ascontiguousarray(array))


def check_supported(layers):
    """Raise ValueError for layers the CUDA kernels cannot run yet (batch norm, PReLU)."""
    layers = np.asarray(layers)
    if np.any(layers[:, KIND] != DENSE):
        raise ValueError("batch_norm is not supported on cuda yet; use device='cpu'.")
    if np.any(layers[:, SLOPE_START] != NONE):
        raise ValueError("prelu is not supported on cuda yet; use device='cpu'.")


class Model(_Model):
    """The kernels' view of a network: ``params`` on the device (a host array is copied),
    the layer table and each layer's activation parameter on the host (to plan launches)
    and on the device, and the loss code. ``state`` and ``bn`` (batch norm's running
    statistics and settings, as the CPU kernels take them) must be None: batch norm and
    PReLU networks are refused (:func:`check_supported`)."""

    __slots__ = ()

    def __new__(cls, params, layers, act_params, loss_code, state=None, bn=None):
        if state is not None:
            raise ValueError("batch norm and PReLU are not supported on cuda yet.")
        layers = np.ascontiguousarray(layers, dtype=np.int64)
        check_supported(layers)
        act_params = np.asarray(act_params, dtype=np.float64)
        return super().__new__(
            cls,
            as_device(params),
            layers,
            act_params,
            int(loss_code),
            cuda.to_device(layers),
            cuda.to_device(act_params),
            None,
            None,
        )


class Scratch:
    """Small device buffers of a workspace, allocated on first use."""

    def __init__(self, capacity):
        self.red = cuda.device_array(N_RED, dtype=np.float64)
        self.row_loss = cuda.device_array(max(capacity, 1), dtype=np.float64)
        self.hp = cuda.device_array(N_HP, dtype=np.float64)
        self.stats = cuda.to_device(np.zeros(N_STATS))
        self.step = cuda.to_device(np.zeros(1, dtype=np.int64))
        self.layer_sq = None
        self.rng = None
        self.no_mask = {}
        self.part = {}


_Workspace = namedtuple("Workspace", ["capacity", "acts", "deltas", "masks", "dropout", "scratch"])


class Workspace(_Workspace):
    """Flat activation, delta and dropout-mask buffers on the device for up to ``capacity``
    rows (as on the CPU; ``dropout`` holds the host's per-layer rates), plus scratch."""

    __slots__ = ()

    def __new__(cls, capacity, acts, deltas, masks, dropout, pre=None, mean=None, inv_std=None):
        # pre, mean, inv_std: batch norm's and PReLU's buffers on the CPU (empty here).
        return super().__new__(
            cls,
            capacity,
            acts,
            deltas,
            masks,
            np.empty(0) if dropout is None else np.asarray(dropout, dtype=np.float64),
            Scratch(capacity),
        )


# ---- views of the flat buffers (host-side bookkeeping, no copies) ---------------------------
def weights(flat, layers, l):
    start, fan_in, fan_out = layers[l, W_START], layers[l, FAN_IN], layers[l, FAN_OUT]
    return flat[start : start + fan_in * fan_out].reshape(fan_in, fan_out)


def intercepts(flat, layers, l):
    start = layers[l, B_START]
    return flat[start : start + layers[l, FAN_OUT]]


def block(buffer, capacity, layers, l, n):
    start = capacity * layers[l, UNIT_START]
    fan_out = layers[l, FAN_OUT]
    return buffer[start : start + n * fan_out].reshape(n, fan_out)


def has_dropout(dropout, l):
    return l < dropout.size and dropout[l] > 0.0


def partials(ws, dtype, slices, rows, cols):
    """A (slices, rows, cols) view of the workspace's buffer for split partial products
    (grown on demand; a (1, 1, 1) placeholder when nothing is split)."""
    size = slices * rows * cols if slices > 1 else 1
    buffer = ws.scratch.part.get(np.dtype(dtype))
    if buffer is None or buffer.size < size:
        buffer = cuda.device_array(size, dtype=dtype)
        ws.scratch.part[np.dtype(dtype)] = buffer
    return buffer[:size].reshape((slices, rows, cols) if slices > 1 else (1, 1, 1))


def no_mask(ws, dtype):
    """An empty mask: the delta kernel's 'no dropout here'."""
    key = np.dtype(dtype)
    if key not in ws.scratch.no_mask:
        ws.scratch.no_mask[key] = cuda.device_array((0, 0), dtype=dtype)
    return ws.scratch.no_mask[key]


def fused(model, ws):
    """Whether the fully fused path runs this network: float32, every layer at most
    FUSED_WIDTH units wide, no dropout."""
    widths = np.concatenate([model.layers[:, FAN_IN], model.layers[:, FAN_OUT]])
    return bool(
        FUSED_ENABLED
        and model.params.dtype == np.float32
        and widths.max() <= FUSED_WIDTH
        and not np.any(ws.dropout > 0)
    )


# ---- the computation ----------------------------------------------------------------------
def forward_layers(model, X, ws, n):
    """Launch every layer's forward on the first ``n`` rows of ``X`` (dropping units where
    ``ws.dropout`` says); return the output block (a device view)."""
    layers, params = model.layers, model.params
    if fused(model, ws):
        fused_forward = fused_kernels.build(params.dtype)[0]
        fused_forward[math.ceil(n / FUSED_ROWS), FUSED_WIDTH](
            X,
            params,
            model.device_layers,
            model.device_act_params,
            ws.acts,
            ws.capacity,
        )
        return block(ws.acts, ws.capacity, layers, layers.shape[0] - 1, n)
    fwd, _, _, softmax_rows, draw_dropout, _ = dense.build(params.dtype)
    A = X
    for l in range(layers.shape[0]):
        out = block(ws.acts, ws.capacity, layers, l, n)
        code = int(layers[l, CODE])
        grid, threads = tiles(n, int(layers[l, FAN_OUT]))
        fwd[grid, threads](
            A,
            weights(params, layers, l),
            intercepts(params, layers, l),
            out,
            code,
            model.act_params[l],
        )
        if code == SOFTMAX:
            softmax_rows[blocks(n), THREADS](out)
        if has_dropout(ws.dropout, l):
            mask = block(ws.masks, ws.capacity, layers, l, n)
            size = n * int(layers[l, FAN_OUT])
            streams = min(ws.scratch.rng.size, blocks(size) * THREADS)
            draw_dropout[streams // THREADS, THREADS](out, mask, ws.dropout[l], ws.scratch.rng)
        A = out
    return A


def backward(model, grad, X, ws, n, hp_dev, red):
    """Given the output delta in ``ws.deltas``, launch every layer's gradient and delta."""
    layers, params = model.layers, model.params
    _, delta_backward, dense_grads, _, _, sum_splits = dense.build(params.dtype)
    fusing = fused(model, ws)
    if fusing:  # every delta in one launch; the weight gradients per layer below
        fused_deltas = fused_kernels.build(params.dtype)[1]
        fused_deltas[math.ceil(n / FUSED_ROWS), FUSED_WIDTH](
            params,
            model.device_layers,
            model.device_act_params,
            ws.acts,
            ws.deltas,
            ws.capacity,
            n,
        )
    for l in range(layers.shape[0] - 1, -1, -1):
        A_prev = X if l == 0 else block(ws.acts, ws.capacity, layers, l - 1, n)
        D = block(ws.deltas, ws.capacity, layers, l, n)
        W = weights(params, layers, l)
        fan_in, fan_out = int(layers[l, FAN_IN]), int(layers[l, FAN_OUT])
        grid, threads = tiles(fan_in + 1, fan_out)  # row fan_in: the intercepts
        gW, gb = weights(grad, layers, l), intercepts(grad, layers, l)
        slices = splits(n, grid[0] * grid[1])
        part = partials(ws, params.dtype, slices, fan_in + 1, fan_out)
        dense_grads[(grid[0], grid[1], slices), threads](A_prev, D, W, gW, gb, hp_dev, red, part)
        if slices > 1:
            sum_splits[blocks((fan_in + 1) * fan_out), THREADS](part, W, gW, gb, hp_dev, red)
        if l > 0 and not fusing:
            if has_dropout(ws.dropout, l - 1):
                M = block(ws.masks, ws.capacity, layers, l - 1, n)
            else:
                M = no_mask(ws, params.dtype)
            grid, threads = tiles(n, fan_in)
            delta_backward[grid, threads](
                D,
                W,
                A_prev,
                block(ws.deltas, ws.capacity, layers, l - 1, n),
                int(layers[l - 1, CODE]),
                model.act_params[l - 1],
                M,
            )


@kernel
def combine_loss(hp, red):
    """One thread: ``red[RED_BATCH_LOSS]`` from the step's partial sums, in the CPU
    kernels' order of operations."""
    if cuda.grid(1) != 0:
        return
    s = red[RED_SW_SUM]
    loss = red[RED_LOSS] / s
    loss *= hp[HP_LOSS_SCALE]
    alpha = hp[HP_ALPHA]
    if alpha != 0.0:
        loss += 0.5 * alpha * red[RED_SUM_SQUARES] / s
    if hp[HP_L1] != 0.0:
        loss += hp[HP_L1] * red[RED_SUM_ABS] / s
    red[RED_BATCH_LOSS] = loss


def batch_loss_and_grad(model, grad, X, Y, sw, hp, hp_dev, ws, n):
    """Launch the loss and gradient of the batch (the first ``n`` rows of X, Y, sw) into
    ``grad``; the loss lands in ``ws.scratch.red[RED_BATCH_LOSS]``, on the device.

    ``hp`` is the host copy of ``hp_dev`` (it decides which launches are needed). The
    conventions are the CPU kernels' (cpu/network.py): regularisers over the weights only,
    divided by the weight total S; the loss scale on the reported data loss only.
    """
    red = ws.scratch.red
    weight_total[1, THREADS](sw, n, red)
    out = forward_layers(model, X, ws, n)
    layers = model.layers
    last = layers.shape[0] - 1
    loss_kernel = losses.build(model.params.dtype)
    loss_kernel[blocks(n), THREADS](
        out,
        Y,
        sw,
        int(layers[last, CODE]),
        model.act_params[last],
        model.loss_code,
        hp_dev,
        red,
        ws.scratch.row_loss,
        block(ws.deltas, ws.capacity, layers, last, n),
    )
    sum_into[1, THREADS](ws.scratch.row_loss, n, red, RED_LOSS)
    backward(model, grad, X, ws, n, hp_dev, red)
    if hp[HP_ALPHA] != 0.0 or hp[HP_L1] != 0.0:
        regularise[1, THREADS](model.params, grad, int(layers[0, B_START]), hp_dev, red)
    combine_loss[1, 1](hp_dev, red)


def forward(model, X, ws):
    """Outputs of the network for ``X``: a device view of the last layer's block of
    ``ws.acts`` (``X`` may be a host array: it is copied)."""
    X = as_device(X)
    return forward_layers(model, X, ws, X.shape[0])


def predict(params, layers, act_params, state, bn, X, out, acts, pre=None, mean=None, inv_std=None):
    """As the CPU kernel: ``out <- network(X)`` (host arrays) in chunks of
    ``acts.size // n_units`` rows through the device workspace ``acts``; returns a
    ``PREDICT_*`` status. X's finiteness is checked on the host, where X is, before any
    copy; the outputs' after each chunk comes back."""
    layers = np.asarray(layers)
    if not np.isfinite(X).all():
        return PREDICT_BAD_INPUT
    model = Model(params, layers, act_params, 0, state, bn)
    n_units = int(layers[-1, UNIT_START] + layers[-1, FAN_OUT])
    capacity = acts.size // n_units
    ws = Workspace(capacity, acts, acts[:0], acts[:0], np.empty(0))
    status = PREDICT_OK
    for start in range(0, X.shape[0], capacity):
        chunk = as_device(X[start : start + capacity])
        rows = chunk.shape[0]
        out[start : start + rows] = forward_layers(model, chunk, ws, rows).copy_to_host()
        if not np.isfinite(out[start : start + rows]).all():
            status = PREDICT_OVERFLOW
    return status


def loss_and_grad(model, grad, X, Y, sw, hp, ws):
    """Loss of one batch (returned to the host) and its gradient written into ``grad`` (a
    device array in params' layout). Host arrays are copied to the device."""
    hp = np.asarray(hp, dtype=np.float64)
    ws.scratch.hp.copy_to_device(hp)
    X, Y, sw = as_device(X), as_device(Y), as_device(sw)
    batch_loss_and_grad(model, grad, X, Y, sw, hp, ws.scratch.hp, ws, X.shape[0])
    return float(ws.scratch.red[RED_BATCH_LOSS : RED_BATCH_LOSS + 1].copy_to_host()[0])


def optimizer_update(solver, params, grad, state1, state2, step, hp, n_decay):
    """One in-place update of the device ``params`` (step: the 1-based update count)."""
    update = optimizers.build(params.dtype)
    red = cuda.to_device(np.ones(N_RED))  # RED_CLIP = 1: no clipping
    stats = cuda.to_device(np.zeros(N_STATS))
    update[blocks(params.size), THREADS](
        solver,
        params,
        grad,
        state1,
        state2,
        cuda.to_device(np.array([step], np.int64)),
        as_device(np.asarray(hp, dtype=np.float64)),
        n_decay,
        red,
        stats,
    )
