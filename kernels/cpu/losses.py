"""Output layer: the loss of a batch and its delta dLoss/dZ, in one pass.

Losses follow scikit-learn: per-sample losses are summed over outputs and averaged over
(weighted) samples; probabilities are clipped to [eps, 1 - eps] inside the logarithms.
For the canonical pairs the delta is simply ``(a - y) * w_i / S``; for any other pair the
loss gradient dLoss/dA is pushed through the output activation's Jacobian. Without sample
weights a canonical pair's float32 block takes flat loops (``unweighted_canonical``).
"""

from numba import types
from numba.extending import overload

from ..codes import SOFTMAX
from ..scalar import derivative, is_canonical, pointwise_loss, pointwise_loss_grad
from .jit import OPTIONS, kernel
from .views import flattened


@kernel
def output_loss_and_delta(A, Y, sw, sw_sum, out_code, out_param, loss_code, eps, D):
    """Return the weighted mean loss and write ``D = dLoss/dZ`` (already divided by S).

    ``sw`` is an empty array for unit weights; ``sw_sum`` is S, the weight total.
    """
    if sw.size == 0 and is_canonical(out_code, loss_code):
        return unweighted_canonical(A, Y, loss_code, eps, 1.0 / sw_sum, D) / sw_sum
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


def unweighted_canonical(A, Y, loss_code, eps, scale, D):
    """The summed loss of a canonical pair over unit weights, and ``D <- (A - Y) * scale``
    (``1 / S``, S the row count). Compiled code gets the overload below."""
    raise NotImplementedError


@overload(unweighted_canonical, jit_options=OPTIONS)
def _unweighted_canonical(A, Y, loss_code, eps, scale, D):
    """Flat loops over whole C-contiguous float32 blocks: a row of an output layer (10
    classes, 2) is too short for a SIMD loop, the block is not (200 x 10 softmax log loss:
    6.2 -> 1.0 us; vectorised logarithms in loops of their own took it to 0.8 us for 0.45 s
    more of a cold first fit). float64 keeps the row-by-row sums of the general loop (the
    exact losses of scikit-learn's parity)."""
    flat = A.dtype == types.float32 and all(x.layout == "C" for x in (A, Y, D))
    if not flat:

        def by_rows(A, Y, loss_code, eps, scale, D):
            n, m = A.shape
            total = 0.0
            for i in range(n):
                row_loss = 0.0
                for j in range(m):
                    a, y = A[i, j], Y[i, j]
                    row_loss += pointwise_loss(loss_code, a, y, eps)
                    D[i, j] = (a - y) * scale
                total += row_loss
            return total

        return by_rows

    def by_blocks(A, Y, loss_code, eps, scale, D):
        a, y, d = flattened(A), flattened(Y), flattened(D)
        total = 0.0
        for k in range(a.size):
            d[k] = (a[k] - y[k]) * scale
        for k in range(a.size):  # apart: the loss's branches keep this loop from SIMD
            total += pointwise_loss(loss_code, a[k], y[k], eps)
        return total

    return by_blocks
