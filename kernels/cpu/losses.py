"""Output layer: the loss of a batch and its delta dLoss/dZ, in one pass.

Losses follow scikit-learn: per-sample losses are summed over outputs and averaged over
(weighted) samples; probabilities are clipped to [eps, 1 - eps] inside the logarithms.
For the canonical pairs the delta is simply ``(a - y) * w_i / S``; for any other pair the
loss gradient dLoss/dA is pushed through the output activation's Jacobian.
"""

from ..codes import SOFTMAX
from ..scalar import derivative, is_canonical, pointwise_loss, pointwise_loss_grad
from .jit import kernel


@kernel
def output_loss_and_delta(A, Y, sw, sw_sum, out_code, out_param, loss_code, eps, D):
    """Return the weighted mean loss and write ``D = dLoss/dZ`` (already divided by S).

    ``sw`` is an empty array for unit weights; ``sw_sum`` is S, the weight total.
    """
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
