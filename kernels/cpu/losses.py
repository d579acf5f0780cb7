"""Output layer: the loss of a batch and its delta dLoss/dZ, in one pass.

Losses follow scikit-learn: per-sample losses are summed over outputs and averaged over
(weighted) samples; probabilities are clipped to [eps, 1 - eps] inside the logarithms.
For the canonical pairs the delta is simply ``(a - y) * w_i / S``; for any other pair the
loss gradient dLoss/dA is pushed through the output activation's Jacobian. Without sample
weights, softmax with log loss takes flat loops over a float32 block
(``unweighted_softmax_log_loss``).
"""

import numpy as np
from numba import types
from numba.extending import overload

from ..codes import LOG_LOSS, SOFTMAX
from ..scalar import derivative, is_canonical, pointwise_loss, pointwise_loss_grad
from .jit import INTERNAL, inline, kernel
from .views import flattened

# log_positive's constants: sqrt(2), and ln(2) split as in dense.exp_nonpositive.
SQRT2 = 1.4142135623730951
LN2_HI = 0.6931471803691238
LN2_LO = 1.9082149292705877e-10


@kernel
def output_loss_and_delta(A, Y, sw, sw_sum, out_code, out_param, loss_code, eps, D):
    """Return the weighted mean loss and write ``D = dLoss/dZ`` (already divided by S).

    ``sw`` is an empty array for unit weights; ``sw_sum`` is S, the weight total.
    """
    if sw.size == 0 and out_code == SOFTMAX and loss_code == LOG_LOSS:
        return unweighted_softmax_log_loss(A, Y, eps, 1.0 / sw_sum, D) / sw_sum
    n, m = A.shape
    canonical = is_canonical(out_code, loss_code)
    total = 0.0
    for i in range(n):
        w = 1.0 if sw.size == 0 else sw[i]
        scale = w / sw_sum
        row_loss = 0.0
        for j in range(m):
            a = A[i, j]
            y = Y[i, j]
            row_loss += pointwise_loss(loss_code, a, y, eps)
            if canonical:
                D[i, j] = (a - y) * scale
            else:
                D[i, j] = pointwise_loss_grad(loss_code, a, y) * scale
        total += w * row_loss
        if canonical:
            continue
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
    return total / sw_sum


def unweighted_softmax_log_loss(A, Y, eps, scale, D):
    """The summed log loss of softmax outputs ``A`` over unit weights, and ``D <- (A - Y)
    * scale`` (``1 / S``, S the row count). Compiled code gets the overload below; this
    body says the same in NumPy."""
    D[...] = (A - Y) * scale
    return -float(np.sum(Y * np.log(np.clip(A.astype(np.float64), eps, 1.0 - eps))))


@overload(unweighted_softmax_log_loss, jit_options=INTERNAL)
def _unweighted_softmax_log_loss(A, Y, eps, scale, D):
    """Flat loops over whole C-contiguous float32 blocks, the logarithms by
    :func:`log_positive`: a row of classes is too short for a SIMD loop, the block is not
    (200 x 10: 6.2 -> 0.8 us; with libm's logarithms, 1.4). Only this pair, the one with
    many outputs a row: the flat loops of every canonical pair cost a cold first fit ~0.5
    s. float64 keeps the general loop's row-by-row sums (scikit-learn's parity)."""
    if not (A.dtype == types.float32 and all(x.layout == "C" for x in (A, Y, D))):

        def by_rows(A, Y, eps, scale, D):
            n, m = A.shape
            total = 0.0
            for i in range(n):
                row_loss = 0.0
                for j in range(m):
                    a, y = A[i, j], Y[i, j]
                    row_loss += pointwise_loss(LOG_LOSS, a, y, eps)
                    D[i, j] = (a - y) * scale
                total += row_loss
            return total

        return by_rows

    def by_blocks(A, Y, eps, scale, D):
        a, y, d = flattened(A), flattened(Y), flattened(D)
        for k in range(a.size):
            d[k] = (a[k] - y[k]) * scale
        total = 0.0
        for k in range(a.size):  # y log p, the log of p clipped to [eps, 1 - eps]: never 0
            total -= y[k] * log_positive(min(max(np.float64(a[k]), eps), 1.0 - eps))
        return total

    return by_blocks


@inline
def log_positive(x):
    """``ln(x)`` for a finite float64 ``x > 0`` (normal), within 5e-13: far below float32's
    round-off. Unlike a libm call, LLVM vectorises a loop of these.

    x = 2**e * m with m in [sqrt(2)/2, sqrt(2)); ln(m) = 2 atanh(s), s = (m - 1) / (m + 1),
    |s| < 0.172, by its series to s**13 (error < 2 s**15 / 15 ~ 5e-13).
    """
    bits = np.float64(x).view(np.int64)
    e = ((bits >> 52) & 0x7FF) - 1023
    m = np.int64((bits & 0xFFFFFFFFFFFFF) | (np.int64(1023) << 52)).view(np.float64)
    big = m > SQRT2
    m = 0.5 * m if big else m
    e = e + 1 if big else e
    s = (m - 1.0) / (m + 1.0)
    s2 = s * s
    p = 2.0 / 13.0
    for c in (2.0 / 11.0, 2.0 / 9.0, 2.0 / 7.0, 2.0 / 5.0, 2.0 / 3.0, 2.0):
        p = p * s2 + c
    return e * LN2_HI + (s * p + e * LN2_LO)
