"""Whole-network kernels: forward, loss and gradient of a batch.

Parameters live in one flat buffer (scikit-learn's ``_pack`` order: every layer's weights
row-major, then every layer's intercepts, then the batch-norm and PReLU blocks); gradients
and optimizer states share that layout, so the regularised entries (the weights) are a
prefix of it. Workspaces are flat too: layer
``l``'s activations for up to ``capacity`` rows are one (capacity, fan_out) block, and a
batch of ``n`` rows uses its first ``n`` rows. The layer table (layout.py) locates every
block, so the kernels' types do not depend on the network's depth.
"""

from collections import namedtuple

import numpy as np
from numba import types
from numba.extending import overload

from ..codes import PRELU
from ..layout import B_START, CODE, DENSE, HP_ALPHA, HP_CLIP_EPS, HP_L1, HP_LOSS_SCALE, KIND
from .dense import delta_backward, dense_forward, dense_grads, draw_dropout
from .fpenv import flush_denormals, restore_fpenv
from .jit import INTERNAL, inline, kernel, refcounted_kernel
from .losses import output_loss_and_delta
from .norm import backward_if_any, forward_if_any
from .views import block, empty_block, intercepts, weights

# params: flat buffer; layers: the layer table (layout.py); act_params: each layer's
# activation slope/alpha; loss_code: the loss; state: the running statistics (layout.py),
# None for a network without batch norm and PReLU (the batch-norm and PReLU kernels then
# compile to nothing: see norm.py); bn: the batch-norm settings (layout.BN_*).
Model = namedtuple("Model", ["params", "layers", "act_params", "loss_code", "state", "bn"])
# Flat activation, delta and inverted-dropout mask buffers with room for ``capacity`` rows
# (masks is empty when nothing is dropped); dropout holds one rate per hidden layer, or is
# None when no unit is dropped (the kernels then compile no random-number code). ``pre``
# (same layout as acts; empty without batch norm and PReLU) keeps what their backward
# needs; ``mean`` and ``inv_std`` hold one entry per unit (batch-norm statistics).
Workspace = namedtuple(
    "Workspace", ["capacity", "acts", "deltas", "masks", "dropout", "pre", "mean", "inv_std"]
)


def has_dropout(dropout, l):
    """Whether layer ``l`` drops units. Compiled code gets the overload below, which
    decides by ``dropout``'s type: a call without dropout (None) compiles no random-number
    code (~0.3 s of a cold first fit); this body says the same in Python."""
    return dropout is not None and l < dropout.size and dropout[l] > 0.0


@overload(has_dropout, jit_options=INTERNAL, inline="always")
def _has_dropout(dropout, l):
    if isinstance(dropout, types.NoneType):
        return lambda dropout, l: False
    return lambda dropout, l: l < dropout.size and dropout[l] > 0.0


def drop_units_if_any(dropout, l, A, M):
    """Inverted dropout of layer ``l``'s output ``A`` (mask ``M``) where ``dropout`` says,
    decided as :func:`has_dropout` is."""
    if has_dropout(dropout, l):
        draw_dropout(A, M, dropout[l])


@overload(drop_units_if_any, jit_options=INTERNAL, inline="always")
def _drop_units_if_any(dropout, l, A, M):
    if isinstance(dropout, types.NoneType):
        return lambda dropout, l, A, M: None

    def drop(dropout, l, A, M):
        if has_dropout(dropout, l):
            draw_dropout(A, M, dropout[l])

    return drop


@inline
def n_weights(model):
    """The weights come first in params' layout: their count is where intercepts start."""
    return model.layers[0, B_START]


@inline
def plain(layers, l):
    """A dense layer with a fixed activation: no batch norm, no PReLU slopes."""
    return layers[l, KIND] == DENSE and layers[l, CODE] != PRELU


@inline
def forward_layers(model, X, ws):
    """Run every layer on ``X`` (dropping units where ``ws.dropout`` says); return the output."""
    n = X.shape[0]
    layers, params = model.layers, model.params
    A = X
    for l in range(layers.shape[0]):
        out = block(ws.acts, ws.capacity, layers, l, n)
        if plain(layers, l):
            dense_forward(
                A,
                weights(params, layers, l),
                intercepts(params, layers, l),
                out,
                layers[l, CODE],
                model.act_params[l],
            )
        else:
            forward_if_any(model, model.state, ws, l, A, out)
        drop_units_if_any(ws.dropout, l, out, block(ws.masks, ws.capacity, layers, l, n))
        A = out
    return A


@refcounted_kernel
def forward(model, X, ws):
    """Outputs of the network for ``X``: a view of the last layer's block of ``ws.acts``."""
    saved = flush_denormals()
    out = forward_layers(model, X, ws)
    restore_fpenv(saved)
    return out


@inline
def backward(model, grad, X, ws, l2):
    """Given the output delta in ``ws.deltas``, fill ``grad`` (params' layout).

    ``l2`` is the per-weight coefficient of the L2 gradient (alpha / S).
    """
    n = X.shape[0]
    layers, params = model.layers, model.params
    for l in range(layers.shape[0] - 1, -1, -1):
        A_prev = X if l == 0 else block(ws.acts, ws.capacity, layers, l - 1, n)
        D = block(ws.deltas, ws.capacity, layers, l, n)
        W = weights(params, layers, l)
        gb = intercepts(grad, layers, l)
        dense_grads(A_prev, D, W, weights(grad, layers, l), gb, l2)
        if layers[l, KIND] != DENSE:
            # Batch norm cancels the intercept: its gradient is exactly zero (not round-off,
            # which Adam would amplify into steps of the learning rate's size).
            for j in range(gb.size):
                gb[j] = 0.0
        if l == 0:
            continue
        k = l - 1
        M = (
            block(ws.masks, ws.capacity, layers, k, n)
            if has_dropout(ws.dropout, k)
            else empty_block(ws.masks)
        )
        D_prev = block(ws.deltas, ws.capacity, layers, k, n)
        if plain(layers, k):
            delta_backward(D, W, A_prev, D_prev, layers[k, CODE], model.act_params[k], M)
        else:
            backward_if_any(model, model.state, grad, ws, k, n, D, W, A_prev, D_prev, M)


@inline
def add_l1(params, grad, nw, coef):
    """Add the L1 subgradient ``coef * sign(w)`` over the weights; return sum |w|."""
    total = 0.0
    for k in range(nw):
        w = params[k]
        total += abs(w)
        if w > 0:
            grad[k] += coef
        elif w < 0:
            grad[k] -= coef
    return total


@inline
def weight_total(sw, n):
    """S: the sample weights' total, or the row count for unit weights (a loop: Numba's
    ``ndarray.sum`` alone cost 0.26 s of compilation)."""
    if sw.size == 0:
        return float(n)
    total = 0.0
    for w in sw:
        total += w
    return total


@inline
def sum_squares(x):
    """Sum of squares of a 1-D view, accumulated in x's own dtype: float32 runs twice the
    SIMD lanes and needs no conversions (the L2 penalty of 20-64-64-2's 5504 float32
    weights: 0.48 -> 0.18 us a batch); float64 keeps full precision. Loops go over views
    from index 0, not over a runtime range (see views.run_view)."""
    total = x.dtype.type(0.0)
    for k in range(x.size):
        total += x[k] * x[k]
    return np.float64(total)


@inline
def batch_loss_and_grad(model, grad, X, Y, sw, hp, ws):
    """Loss of the batch (X, Y) and its gradient written into ``grad`` (params' layout).

    ``sw`` holds the sample weights, or is empty for unit weights; S is their total (or the
    row count). Regularisers follow scikit-learn's convention: ``0.5 * alpha * sum(W**2) / S``
    and ``l1 * sum(|W|) / S``, intercepts excluded. The reported data loss is multiplied by
    ``hp[HP_LOSS_SCALE]``; the gradient is always that of the unscaled loss.
    """
    n = X.shape[0]
    sw_sum = weight_total(sw, n)
    out = forward_layers(model, X, ws)
    layers = model.layers
    last = layers.shape[0] - 1
    loss = output_loss_and_delta(
        out,
        Y,
        sw,
        sw_sum,
        layers[last, CODE],
        model.act_params[last],
        model.loss_code,
        hp[HP_CLIP_EPS],
        block(ws.deltas, ws.capacity, layers, last, n),
    )
    loss *= hp[HP_LOSS_SCALE]
    alpha = hp[HP_ALPHA]
    nw = n_weights(model)
    if alpha != 0.0:
        loss += 0.5 * alpha * sum_squares(model.params[:nw]) / sw_sum
    backward(model, grad, X, ws, alpha / sw_sum)
    if hp[HP_L1] != 0.0:
        loss += hp[HP_L1] * add_l1(model.params, grad, nw, hp[HP_L1] / sw_sum) / sw_sum
    return loss


@kernel
def loss_and_grad(model, grad, X, Y, sw, hp, ws):
    """Entry point for :func:`batch_loss_and_grad` (one batch, called from Python)."""
    saved = flush_denormals()
    loss = batch_loss_and_grad(model, grad, X, Y, sw, hp, ws)
    restore_fpenv(saved)
    return loss
