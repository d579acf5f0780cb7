"""Batch normalisation and PReLU on the CPU, fused with the activation that follows.

A hidden layer with either is computed as ``Z = A_prev @ W`` (dense.py's ``product``), then
one kernel here adds the intercept, normalises (batch norm: ``xhat = (z - mean) / sigma``,
``y = gamma * xhat + beta``) and applies the activation in the same pass over ``Z``. The
workspace's ``pre`` block keeps what the backward pass needs: ``xhat`` for a batch-norm layer
(its pre-activation ``y`` is recomputed from it), the pre-activation ``z + b`` for a PReLU
layer without batch norm. PReLU's derivative needs the pre-activation's sign: a learned
slope may be negative, so the output's sign says nothing.

Batch statistics are unweighted (sample weights weight the loss only). Normalisation uses
the biased variance; the running variance is updated with the unbiased one (PyTorch).
"""

import math

from ..codes import IDENTITY, RELU
from ..layout import BN_EPSILON, BN_MOMENTUM, BN_TRAINING, BN_UPDATE
from ..scalar import activate
from .dense import activation_backward, matmul
from .jit import inline, kernel


@inline
def batch_moments(Z, b, mean, inv_std):
    """``mean`` <- column means of ``Z + b``; ``inv_std`` <- their biased variance (for now).

    Row-major loops whose inner loop runs over units, so they vectorise.
    """
    n, m = Z.shape
    for j in range(m):
        mean[j] = 0.0
        inv_std[j] = 0.0
    for i in range(n):
        for j in range(m):
            mean[j] += Z[i, j]
    inv_n = 1.0 / n
    for j in range(m):
        mean[j] = mean[j] * inv_n + b[j]
    for i in range(n):
        for j in range(m):
            d = Z[i, j] + b[j] - mean[j]
            inv_std[j] += d * d
    for j in range(m):
        inv_std[j] *= inv_n


@inline
def update_running(mean, var, running_mean, running_var, n, momentum):
    """running <- (1 - m) running + m batch, with the unbiased batch variance."""
    unbias = n / (n - 1.0)
    for j in range(mean.size):
        running_mean[j] = (1.0 - momentum) * running_mean[j] + momentum * mean[j]
        running_var[j] = (1.0 - momentum) * running_var[j] + momentum * var[j] * unbias


@inline
def statistics(Z, b, mean, inv_std, running_mean, running_var, bn):
    """Fill ``mean`` and ``inv_std`` = 1 / sqrt(var + eps) from the batch (training) or
    the running statistics (inference); fold the batch's into the running ones if asked."""
    eps = bn[BN_EPSILON]
    if bn[BN_TRAINING] != 0.0:
        batch_moments(Z, b, mean, inv_std)
        if bn[BN_UPDATE] != 0.0:
            update_running(mean, inv_std, running_mean, running_var, Z.shape[0],
                           bn[BN_MOMENTUM])
    else:
        for j in range(mean.size):
            mean[j] = running_mean[j]
            inv_std[j] = running_var[j]
    for j in range(mean.size):
        inv_std[j] = 1.0 / math.sqrt(inv_std[j] + eps)


@kernel
def norm_act_forward(Z, b, pre, gamma, beta, slopes, mean, inv_std, running_mean, running_var,
                     bn, code, param):
    """In place on ``Z = A_prev @ W``: ``Z <- g(BN(Z + b))`` when ``gamma`` is not empty,
    else ``Z <- g(Z + b)``; ``g`` is PReLU with ``slopes`` when they are not empty, else
    the activation ``code``. ``pre`` receives ``xhat`` (batch norm) or ``Z + b``."""
    n, m = Z.shape
    if gamma.size > 0:
        statistics(Z, b, mean, inv_std, running_mean, running_var, bn)
        for i in range(n):
            for j in range(m):
                xhat = (Z[i, j] + b[j] - mean[j]) * inv_std[j]
                pre[i, j] = xhat
                Z[i, j] = gamma[j] * xhat + beta[j]
    else:
        for i in range(n):
            for j in range(m):
                z = Z[i, j] + b[j]
                pre[i, j] = z
                Z[i, j] = z
    # The activation, one loop per case: a per-element branch on the code blocks SIMD.
    zero = Z.dtype.type(0.0)
    if slopes.size > 0:
        for i in range(n):
            for j in range(m):
                y = Z[i, j]
                Z[i, j] = y if y > zero else slopes[j] * y
    elif code == RELU:
        for i in range(n):
            for j in range(m):
                y = Z[i, j]
                Z[i, j] = y if y > zero else zero
    elif code != IDENTITY:
        for i in range(n):
            for j in range(m):
                Z[i, j] = activate(code, Z[i, j], param)


@inline
def prelu_backward(D_prev, pre, gamma, beta, slopes, g_slopes):
    """In place: ``D_prev <- D_prev * PReLU'(y)``, ``g_slopes`` <- sum of ``D_prev * min(y, 0)``
    over rows, ``y`` the pre-activation (``gamma * xhat + beta`` with batch norm)."""
    n, m = D_prev.shape
    zero = D_prev.dtype.type(0.0)
    for j in range(m):
        g_slopes[j] = 0.0
    normalise = gamma.size > 0
    for i in range(n):
        for j in range(m):
            y = gamma[j] * pre[i, j] + beta[j] if normalise else pre[i, j]
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
            D_prev[i, j] = gamma[j] * inv_std[j] * (
                D_prev[i, j] - inv_n * (g_beta[j] + xhat[i, j] * g_gamma[j])
            )


@kernel
def norm_act_backward(D, W, A_prev, D_prev, code, param, M, pre, gamma, beta, slopes, inv_std,
                      g_gamma, g_beta, g_slopes):
    """``D_prev <- dLoss/dZ_prev`` for a hidden layer with batch norm and/or PReLU, from the
    next layer's delta ``D`` and weights ``W``; fills the layer's ``g_gamma``, ``g_beta``
    and ``g_slopes`` (empty where the layer has none)."""
    matmul(D, W, D_prev, False, True)
    if slopes.size > 0:
        if M.size > 0:  # dropout scaled the output by the mask: the gradient too
            n, m = D_prev.shape
            for i in range(n):
                for j in range(m):
                    D_prev[i, j] *= M[i, j]
        prelu_backward(D_prev, pre, gamma, beta, slopes, g_slopes)
    else:
        activation_backward(D_prev, A_prev, code, param, M)
    if gamma.size > 0:
        batch_norm_backward(D_prev, pre, gamma, inv_std, g_gamma, g_beta)
