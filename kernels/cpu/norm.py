"""Batch normalisation and PReLU on the CPU, fused with the activation that follows.

A hidden layer with either is computed as ``Z = A_prev @ W``, then the same kernel adds
the intercept, normalises (batch norm: ``xhat = (z - mean) / sigma``,
``y = gamma * xhat + beta``) and applies the activation in the same pass over ``Z``. The
workspace's ``pre`` block keeps what the backward pass needs: ``xhat`` for a batch-norm layer
(its pre-activation ``y`` is recomputed from it), the pre-activation ``z + b`` for a PReLU
layer without batch norm. PReLU's derivative needs the pre-activation's sign: a learned
slope may be negative, so the output's sign says nothing.

A network without batch norm and PReLU passes ``state=None`` (``Model.state``): the callers
then go through :func:`forward_if_any` and :func:`backward_if_any`, whose implementation
Numba picks by the type of ``state``, so plain networks never compile the two kernels
(~0.25 s of a cold first fit; pruning their bodies on ``state is None`` still cost that);
the compiled types still do not depend on the depth.

Batch statistics are unweighted (sample weights weight the loss only). Normalisation uses
the biased variance; the running variance is updated with the unbiased one (PyTorch).
"""

import math

from numba import types
from numba.extending import overload

from ..layout import (
    BETA_START,
    BN_EPSILON,
    BN_MOMENTUM,
    BN_TRAINING,
    BN_UPDATE,
    CODE,
    GAMMA_START,
    SLOPE_START,
    STATE_START,
    UNIT_START,
)
from .dense import activation_backward, bias_activation
from .jit import INTERNAL, inline, kernel
from .products import product, product_nt
from .views import block, intercepts, segment, weights


@inline
def statistics(Z, b, mean, inv_std, running_mean, running_var, bn):
    """Fill ``mean`` and ``inv_std`` = 1 / sqrt(var + eps) from the batch (training: the
    mean and biased variance of ``Z + b``, two passes for accuracy) or from the running
    statistics (inference); fold the batch's into the running ones when ``bn`` says so.

    Row-major loops whose inner loop runs over units, so they vectorise.
    """
    n, m = Z.shape
    training = bn[BN_TRAINING] != 0.0
    for j in range(m):
        mean[j] = 0.0 if training else running_mean[j] - b[j]
        inv_std[j] = 0.0 if training else running_var[j]
    if training:
        for i in range(n):
            for j in range(m):
                mean[j] += Z[i, j]
        for j in range(m):
            mean[j] *= 1.0 / n
        for i in range(n):
            for j in range(m):
                d = Z[i, j] - mean[j]
                inv_std[j] += d * d
    momentum = bn[BN_MOMENTUM] if bn[BN_UPDATE] != 0.0 and training else 0.0
    unbias = n / (n - 1.0) if n > 1 else 0.0
    eps = bn[BN_EPSILON]
    for j in range(m):
        var = inv_std[j] * (1.0 / n) if training else inv_std[j]
        if momentum != 0.0:  # running <- (1 - m) running + m batch, unbiased variance
            running_mean[j] = (1.0 - momentum) * running_mean[j] + momentum * (mean[j] + b[j])
            running_var[j] = (1.0 - momentum) * running_var[j] + momentum * var * unbias
        inv_std[j] = 1.0 / math.sqrt(var + eps)


@kernel
def norm_act_forward(model, state, ws, l, A_prev, Z):
    """Layer ``l``'s outputs for the rows of ``A_prev``: ``Z <- A_prev @ W``, then in place
    ``Z <- g(BN(Z + b))`` for a batch-norm layer, else ``Z <- g(Z + b)``; ``g`` is PReLU
    for a layer with slopes, else its activation code. ``ws.pre`` receives ``xhat``
    (batch norm) or ``Z + b``.

    Takes the whole model and workspace (one signature for every call) and makes the
    layer's views itself, so its callers, inlined into every entry point, stay small.
    ``state`` is ``model.state`` (never None here: see :func:`forward_if_any`).
    """
    layers, params = model.layers, model.params
    n = A_prev.shape[0]
    product(A_prev, weights(params, layers, l), Z)
    b = intercepts(params, layers, l)
    pre = block(ws.pre, ws.capacity, layers, l, n)
    gamma = segment(params, layers, l, GAMMA_START, 0)
    beta = segment(params, layers, l, BETA_START, 0)
    slopes = segment(params, layers, l, SLOPE_START, 0)
    m = Z.shape[1]
    if gamma.size > 0:
        mean = segment(ws.mean, layers, l, UNIT_START, 0)
        inv_std = segment(ws.inv_std, layers, l, UNIT_START, 0)
        statistics(
            Z,
            b,
            mean,
            inv_std,
            segment(state, layers, l, STATE_START, 0),
            segment(state, layers, l, STATE_START, 1),
            model.bn,
        )
        for i in range(n):
            for j in range(m):
                xhat = (Z[i, j] - mean[j]) * inv_std[j]
                pre[i, j] = xhat
                Z[i, j] = gamma[j] * xhat
        shift = beta  # added with the activation below
    else:
        shift = b
    if slopes.size == 0:
        bias_activation(Z, shift, layers[l, CODE], model.act_params[l])
        return
    zero = Z.dtype.type(0.0)
    if gamma.size == 0:  # keep the pre-activation for the backward pass
        for i in range(n):
            for j in range(m):
                y = Z[i, j] + shift[j]
                pre[i, j] = y
                Z[i, j] = y if y > zero else slopes[j] * y
        return
    for i in range(n):
        for j in range(m):
            y = Z[i, j] + shift[j]
            Z[i, j] = y if y > zero else slopes[j] * y


@inline
def prelu_backward(D_prev, pre, gamma, beta, slopes, g_slopes):
    """In place: ``D_prev <- D_prev * PReLU'(y)``, ``g_slopes`` <- sum of ``D_prev * min(y, 0)``
    over rows, ``y`` the pre-activation (``gamma * xhat + beta`` with batch norm)."""
    n, m = D_prev.shape
    zero = D_prev.dtype.type(0.0)
    for j in range(m):
        g_slopes[j] = 0.0
    # One loop per case: a branch on a loop-invariant flag inside the loop blocks SIMD.
    if gamma.size > 0:
        for i in range(n):
            for j in range(m):
                y = gamma[j] * pre[i, j] + beta[j]
                g = D_prev[i, j]
                negative = y <= zero
                g_slopes[j] += g * y if negative else zero
                D_prev[i, j] = g * slopes[j] if negative else g
    else:
        for i in range(n):
            for j in range(m):
                y = pre[i, j]
                g = D_prev[i, j]
                negative = y <= zero
                g_slopes[j] += g * y if negative else zero
                D_prev[i, j] = g * slopes[j] if negative else g


@inline
def batch_norm_backward(D_prev, xhat, gamma, inv_std, g_gamma, g_beta):
    """In place: ``D_prev`` (dLoss/dy) <- dLoss/dz through batch norm in training mode, the
    compact form ``gamma / (N sigma) (N dy - sum dy - xhat sum(dy xhat))``; also
    ``g_beta = sum dy`` and ``g_gamma = sum dy xhat`` over rows."""
    n, m = D_prev.shape
    for j in range(m):
        g_gamma[j] = 0.0
        g_beta[j] = 0.0
    for i in range(n):
        for j in range(m):
            dy = D_prev[i, j]
            g_beta[j] += dy
            g_gamma[j] += dy * xhat[i, j]
    inv_n = 1.0 / n
    for i in range(n):
        for j in range(m):
            D_prev[i, j] = (
                gamma[j]
                * inv_std[j]
                * (D_prev[i, j] - inv_n * (g_beta[j] + xhat[i, j] * g_gamma[j]))
            )


@kernel
def norm_act_backward(model, state, grad, ws, k, n, D, W, A_prev, D_prev, M):
    """``D_prev <- dLoss/dZ`` of hidden layer ``k`` (batch norm and/or PReLU) from the next
    layer's delta ``D`` and weights ``W``; fills layer ``k``'s gamma, beta and slopes blocks
    of ``grad``. ``M`` is the layer's dropout mask or empty; ``state`` as in
    :func:`norm_act_forward`."""
    layers, params = model.layers, model.params
    pre = block(ws.pre, ws.capacity, layers, k, n)
    gamma = segment(params, layers, k, GAMMA_START, 0)
    beta = segment(params, layers, k, BETA_START, 0)
    slopes = segment(params, layers, k, SLOPE_START, 0)
    product_nt(D, W, D_prev)
    if slopes.size > 0:
        if M.size > 0:  # dropout scaled the output by the mask: the gradient too
            m = D_prev.shape[1]
            for i in range(n):
                for j in range(m):
                    D_prev[i, j] *= M[i, j]
        prelu_backward(D_prev, pre, gamma, beta, slopes, segment(grad, layers, k, SLOPE_START, 0))
    else:
        activation_backward(D_prev, A_prev, layers[k, CODE], model.act_params[k], M)
    if gamma.size > 0:
        batch_norm_backward(
            D_prev,
            pre,
            gamma,
            segment(ws.inv_std, layers, k, UNIT_START, 0),
            segment(grad, layers, k, GAMMA_START, 0),
            segment(grad, layers, k, BETA_START, 0),
        )


def forward_if_any(model, state, ws, l, A_prev, Z):
    """:func:`norm_act_forward`, or nothing when ``state`` is None. Compiled code gets the
    overload below, which decides by ``state``'s type; this body says the same in Python."""
    if state is not None:
        norm_act_forward(model, state, ws, l, A_prev, Z)


@overload(forward_if_any, jit_options=INTERNAL, inline="always")
def _forward_if_any(model, state, ws, l, A_prev, Z):
    if isinstance(state, types.NoneType):
        return lambda model, state, ws, l, A_prev, Z: None
    return lambda model, state, ws, l, A_prev, Z: norm_act_forward(model, state, ws, l, A_prev, Z)


def backward_if_any(model, state, grad, ws, k, n, D, W, A_prev, D_prev, M):
    """:func:`norm_act_backward`, or nothing when ``state`` is None (see
    :func:`forward_if_any`)."""
    if state is not None:
        norm_act_backward(model, state, grad, ws, k, n, D, W, A_prev, D_prev, M)


@overload(backward_if_any, jit_options=INTERNAL, inline="always")
def _backward_if_any(model, state, grad, ws, k, n, D, W, A_prev, D_prev, M):
    if isinstance(state, types.NoneType):
        return lambda model, state, grad, ws, k, n, D, W, A_prev, D_prev, M: None

    def run(model, state, grad, ws, k, n, D, W, A_prev, D_prev, M):
        norm_act_backward(model, state, grad, ws, k, n, D, W, A_prev, D_prev, M)

    return run
