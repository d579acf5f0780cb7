"""Whole-network kernels over the flat parameter buffer.

Layout of ``params`` (scikit-learn's ``_pack`` order): every layer's weights row-major,
then every layer's intercepts. Gradients and optimizer states share it, so the
regularised entries (the weights) are the prefix ``params[:n_weights(sizes)]``.

Workspaces ``acts`` and ``deltas`` are flat too: for a batch of ``n`` rows, layer ``l``'s
``(n, sizes[l + 1])`` block starts at ``n * sum(sizes[1:l + 1])``. They are allocated once
(for the largest batch) and any smaller batch uses a prefix of each block.
"""

import numpy as np
from numba import njit

from ..config import FASTMATH
from .dense import delta_backward, dense_forward, dense_grads
from .losses import output_loss_and_delta


@njit(cache=True)
def n_weights(sizes):
    total = 0
    for l in range(sizes.size - 1):
        total += sizes[l] * sizes[l + 1]
    return total


@njit(cache=True)
def weight_view(params, sizes, l):
    start = 0
    for k in range(l):
        start += sizes[k] * sizes[k + 1]
    return params[start : start + sizes[l] * sizes[l + 1]].reshape(sizes[l], sizes[l + 1])


@njit(cache=True)
def bias_view(params, sizes, l):
    start = n_weights(sizes)
    for k in range(l):
        start += sizes[k + 1]
    return params[start : start + sizes[l + 1]]


@njit(cache=True)
def block_view(buf, sizes, l, n):
    """Layer ``l``'s (n, sizes[l + 1]) block of a flat activation or delta workspace."""
    start = 0
    for k in range(l):
        start += sizes[k + 1]
    start *= n
    return buf[start : start + n * sizes[l + 1]].reshape(n, sizes[l + 1])


@njit(cache=True, fastmath=FASTMATH)
def forward(params, sizes, codes, act_params, X, acts):
    """Run every layer on ``X``; returns the output block of ``acts``."""
    n = X.shape[0]
    A = X
    for l in range(sizes.size - 1):
        out = block_view(acts, sizes, l, n)
        dense_forward(
            A, weight_view(params, sizes, l), bias_view(params, sizes, l), out,
            codes[l], act_params[l],
        )
        A = out
    return A


@njit(cache=True, fastmath=FASTMATH)
def backward(params, grad, sizes, codes, act_params, X, acts, deltas, l2):
    """Given the output delta in ``deltas``, fill ``grad`` for every layer.

    ``l2`` is the per-weight coefficient of the L2 gradient (alpha / S).
    """
    n = X.shape[0]
    for l in range(sizes.size - 2, -1, -1):
        A_prev = X if l == 0 else block_view(acts, sizes, l - 1, n)
        D = block_view(deltas, sizes, l, n)
        W = weight_view(params, sizes, l)
        dense_grads(A_prev, D, W, weight_view(grad, sizes, l), bias_view(grad, sizes, l), l2)
        if l > 0:
            delta_backward(
                D, W, A_prev, block_view(deltas, sizes, l - 1, n), codes[l - 1], act_params[l - 1]
            )


@njit(cache=True, fastmath=FASTMATH)
def l2_penalty(params, sizes):
    """sum of squared weights (intercepts excluded)."""
    total = 0.0
    for k in range(n_weights(sizes)):
        total += params[k] * params[k]
    return total


@njit(cache=True, fastmath=FASTMATH)
def loss_and_grad(
    params, grad, sizes, codes, act_params, loss_code, X, Y, sw, alpha, eps, acts, deltas
):
    """Loss of the batch (X, Y) and its gradient written into ``grad``.

    ``sw`` holds the sample weights, or is empty for unit weights. The L2 term is
    ``0.5 * alpha * sum(W**2) / S`` with S the weight total (scikit-learn's convention).
    """
    n = X.shape[0]
    sw_sum = float(n) if sw.size == 0 else sw.sum()
    out = forward(params, sizes, codes, act_params, X, acts)
    L = sizes.size - 1
    loss = output_loss_and_delta(
        out, Y, sw, sw_sum, codes[L - 1], act_params[L - 1], loss_code, eps,
        block_view(deltas, sizes, L - 1, n),
    )
    if alpha != 0.0:
        loss += 0.5 * alpha * l2_penalty(params, sizes) / sw_sum
    backward(params, grad, sizes, codes, act_params, X, acts, deltas, alpha / sw_sum)
    return loss
