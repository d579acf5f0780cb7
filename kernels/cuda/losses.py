"""Output layer on a CUDA device: each row's loss and its delta dLoss/dZ, in one pass.

The same conventions as the CPU kernels (cpu/losses.py): per-sample losses summed over
outputs, averaged over (weighted) samples, probabilities clipped to [eps, 1 - eps] inside
the logarithms, the canonical pairs' delta ``(a - y) * w_i / S``, any other pair's loss
gradient pushed through the output activation's Jacobian. One thread handles one row and
writes ``w_i * row_loss`` for a deterministic block reduction (reduce.py) to sum.
"""

import math

from numba import cuda

from ..codes import (
    BINARY_LOG_LOSS,
    EXP,
    IDENTITY,
    LOG_LOSS,
    LOGISTIC,
    POISSON,
    SOFTMAX,
    SQUARED_ERROR,
)
from ..layout import HP_CLIP_EPS
from ..scalar import derivative
from .jit import device, kernel, per_dtype
from .slots import RED_SW_SUM


@device
def xlogy(x, y):
    """x * log(y), defined as 0 when x == 0 (as scipy.special.xlogy)."""
    if x == 0.0:
        return 0.0
    return x * math.log(y)


@device
def pointwise_loss(loss_code, a, y, eps):
    if loss_code == SQUARED_ERROR:
        return 0.5 * (a - y) * (a - y)
    if loss_code == LOG_LOSS:
        return -xlogy(y, min(max(a, eps), 1.0 - eps))
    if loss_code == BINARY_LOG_LOSS:
        p = min(max(a, eps), 1.0 - eps)
        return -(xlogy(y, p) + xlogy(1.0 - y, 1.0 - p))
    return xlogy(y, y / a) - y + a  # poisson: half the deviance


@device
def pointwise_loss_grad(loss_code, a, y):
    """dLoss/da for one element (clipping ignored, as in scikit-learn's deltas)."""
    if loss_code == SQUARED_ERROR:
        return a - y
    if loss_code == LOG_LOSS:
        return -y / a
    if loss_code == BINARY_LOG_LOSS:
        return (a - y) / (a * (1.0 - a))
    return 1.0 - y / a


@device
def is_canonical(out_code, loss_code):
    return (
        (out_code == IDENTITY and loss_code == SQUARED_ERROR)
        or (out_code == SOFTMAX and loss_code == LOG_LOSS)
        or (out_code == LOGISTIC and loss_code == BINARY_LOG_LOSS)
        or (out_code == EXP and loss_code == POISSON)
    )


@per_dtype
def build(float_t):
    @kernel
    def output_loss_and_delta(A, Y, sw, out_code, out_param, loss_code, hp, red, row_loss, D):
        """Row i: ``row_loss[i] <- w_i * loss_i`` and ``D[i] <- dLoss/dZ[i]`` (divided by
        S = ``red[RED_SW_SUM]``); ``sw`` is empty for unit weights."""
        i = cuda.grid(1)
        n, m = A.shape
        if i >= n:
            return
        eps = hp[HP_CLIP_EPS]
        canonical = is_canonical(out_code, loss_code)
        w = 1.0 if sw.size == 0 else sw[i]
        scale = w / red[RED_SW_SUM]
        total = 0.0
        for j in range(m):
            a = A[i, j]
            y = Y[i, j]
            total += pointwise_loss(loss_code, a, y, eps)
            if canonical:
                D[i, j] = (a - y) * scale
            else:
                D[i, j] = pointwise_loss_grad(loss_code, a, y) * scale
        row_loss[i] = w * total
        if canonical:
            return
        if out_code == SOFTMAX:
            # Jacobian-vector product of softmax: a_j * (g_j - sum_k g_k a_k).
            dot = 0.0
            for j in range(m):
                dot += D[i, j] * A[i, j]
            for j in range(m):
                D[i, j] = A[i, j] * (D[i, j] - dot)
        else:
            for j in range(m):
                D[i, j] *= derivative(out_code, A[i, j], out_param)

    return output_loss_and_delta
