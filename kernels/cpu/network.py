"""Whole-network kernels over the flat parameter buffer.

Layout of ``params`` (scikit-learn's ``_pack`` order): every layer's weights row-major,
then every layer's intercepts. Gradients and optimizer states share it, so the
regularised entries (the weights) are the prefix ``params[:n_weights(sizes)]``.

Workspaces ``acts``, ``deltas`` and dropout ``masks`` are flat too: for a batch of ``n``
rows, layer ``l``'s ``(n, sizes[l + 1])`` block starts at ``n * sum(sizes[1:l + 1])``. They
are allocated once (for the largest batch) and a smaller batch uses a prefix of each block.
``dropout`` holds one rate per hidden layer, or is empty when nothing is dropped.
"""

import math

import numpy as np
from numba import njit

from ..codes import HP_ALPHA, HP_CLIP_EPS, HP_L1, HP_LOSS_SCALE
from ..config import FASTMATH
from .dense import delta_backward, dense_forward, dense_grads, draw_dropout
from .losses import output_loss_and_delta


@njit(cache=True)
def n_weights(sizes):
    total = 0
    for l in range(sizes.size - 1):
        total += sizes[l] * sizes[l + 1]
    return total


@njit(cache=True)
def weight_start(sizes, l):
    start = 0
    for k in range(l):
        start += sizes[k] * sizes[k + 1]
    return start


@njit(cache=True)
def bias_start(sizes, l):
    start = n_weights(sizes)
    for k in range(l):
        start += sizes[k + 1]
    return start


@njit(cache=True)
def weight_view(params, sizes, l):
    start = weight_start(sizes, l)
    return params[start : start + sizes[l] * sizes[l + 1]].reshape(sizes[l], sizes[l + 1])


@njit(cache=True)
def bias_view(params, sizes, l):
    start = bias_start(sizes, l)
    return params[start : start + sizes[l + 1]]


@njit(cache=True)
def block_view(buf, sizes, l, n):
    """Layer ``l``'s (n, sizes[l + 1]) block of a flat activation, delta or mask workspace."""
    start = 0
    for k in range(l):
        start += sizes[k + 1]
    start *= n
    return buf[start : start + n * sizes[l + 1]].reshape(n, sizes[l + 1])


@njit(cache=True)
def has_dropout(dropout, l):
    return l < dropout.size and dropout[l] > 0.0


@njit(cache=True, fastmath=FASTMATH)
def forward(params, sizes, codes, act_params, X, acts, dropout, masks):
    """Run every layer on ``X``; returns the output block of ``acts``."""
    n = X.shape[0]
    A = X
    for l in range(sizes.size - 1):
        out = block_view(acts, sizes, l, n)
        dense_forward(
            A, weight_view(params, sizes, l), bias_view(params, sizes, l), out,
            codes[l], act_params[l],
        )
        if has_dropout(dropout, l):
            draw_dropout(out, block_view(masks, sizes, l, n), dropout[l])
        A = out
    return A


@njit(cache=True, fastmath=FASTMATH)
def backward(params, grad, sizes, codes, act_params, X, acts, deltas, l2, dropout, masks):
    """Given the output delta in ``deltas``, fill ``grad`` for every layer.

    ``l2`` is the per-weight coefficient of the L2 gradient (alpha / S).
    """
    n = X.shape[0]
    no_mask = masks[:0].reshape(0, 0)
    for l in range(sizes.size - 2, -1, -1):
        A_prev = X if l == 0 else block_view(acts, sizes, l - 1, n)
        D = block_view(deltas, sizes, l, n)
        W = weight_view(params, sizes, l)
        dense_grads(A_prev, D, W, weight_view(grad, sizes, l), bias_view(grad, sizes, l), l2)
        if l > 0:
            M = block_view(masks, sizes, l - 1, n) if has_dropout(dropout, l - 1) else no_mask
            delta_backward(
                D, W, A_prev, block_view(deltas, sizes, l - 1, n), codes[l - 1],
                act_params[l - 1], M,
            )


@njit(cache=True, fastmath=FASTMATH)
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


@njit(cache=True, fastmath=FASTMATH)
def sum_squares(x, start, stop):
    total = 0.0
    for k in range(start, stop):
        total += x[k] * x[k]
    return total


@njit(cache=True, fastmath=FASTMATH)
def loss_and_grad(
    params, grad, sizes, codes, act_params, loss_code, X, Y, sw, hp, acts, deltas, dropout,
    masks,
):
    """Loss of the batch (X, Y) and its gradient written into ``grad``.

    ``sw`` holds the sample weights, or is empty for unit weights; S is their total (or the
    row count). Regularisers follow scikit-learn's convention: ``0.5 * alpha * sum(W**2) / S``
    and ``l1 * sum(|W|) / S``, intercepts excluded. The reported data loss is multiplied by
    ``hp[HP_LOSS_SCALE]``; the gradient is always that of the unscaled loss.
    """
    n = X.shape[0]
    sw_sum = float(n) if sw.size == 0 else sw.sum()
    out = forward(params, sizes, codes, act_params, X, acts, dropout, masks)
    L = sizes.size - 1
    loss = output_loss_and_delta(
        out, Y, sw, sw_sum, codes[L - 1], act_params[L - 1], loss_code, hp[HP_CLIP_EPS],
        block_view(deltas, sizes, L - 1, n),
    )
    loss *= hp[HP_LOSS_SCALE]
    alpha = hp[HP_ALPHA]
    nw = n_weights(sizes)
    if alpha != 0.0:
        loss += 0.5 * alpha * sum_squares(params, 0, nw) / sw_sum
    backward(params, grad, sizes, codes, act_params, X, acts, deltas, alpha / sw_sum, dropout, masks)
    if hp[HP_L1] != 0.0:
        loss += hp[HP_L1] * add_l1(params, grad, nw, hp[HP_L1] / sw_sum) / sw_sum
    return loss
