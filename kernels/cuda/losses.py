"""Output layer on a CUDA device: each row's loss and its delta dLoss/dZ, in one pass.

The same conventions as the CPU kernels (cpu/losses.py): per-sample losses summed over
outputs, averaged over (weighted) samples, probabilities clipped to [eps, 1 - eps] inside
the logarithms, the canonical pairs' delta ``(a - y) * w_i / S``, any other pair's loss
gradient pushed through the output activation's Jacobian. One thread handles one row and
writes ``w_i * row_loss`` for a deterministic block reduction (reduce.py) to sum.
"""

from numba import cuda

from ..codes import (
    SOFTMAX,
)
from ..layout import HP_CLIP_EPS
from ..scalar import derivative, is_canonical, pointwise_loss, pointwise_loss_grad
from .jit import kernel, per_dtype
from .slots import RED_SW_SUM


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
