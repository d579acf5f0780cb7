"""One dense layer on the CPU: fused bias + activation forward, delta backpropagation, grads.

Matrix products go to SciPy's BLAS (blas.py), whatever their size: called directly, a gemm
costs ~25-50 ns even on a 1 x 10 x 32 product, no more than hand loops, which cost more
compilation (0.4 s of a cold first fit). Everything element-wise is fused into a single
pass over the product's output.
"""

import math

import numpy as np

from ..codes import IDENTITY, RELU, SOFTMAX
from ..scalar import activate, derivative
from .blas import gemm
from .jit import inline, kernel


@inline
def bias_activation(Z, b, code, param):
    """In place: ``Z <- g(Z + b)``; softmax is row-wise and shifted by the row max."""
    n, m = Z.shape
    if code == SOFTMAX:
        for i in range(n):
            row_max = -np.inf
            for j in range(m):
                Z[i, j] += b[j]
                row_max = max(row_max, Z[i, j])
            total = 0.0
            for j in range(m):
                e = math.exp(Z[i, j] - row_max)
                Z[i, j] = e
                total += e
            inv = 1.0 / total
            for j in range(m):
                Z[i, j] *= inv
    elif code == RELU:
        # The common cases get loops of their own: LLVM will not unswitch the generic
        # loop below on `code`, and its per-element branch blocks SIMD (measured 15x).
        zero = Z.dtype.type(0.0)
        for i in range(n):
            for j in range(m):
                z = Z[i, j] + b[j]
                Z[i, j] = z if z > zero else zero
    elif code == IDENTITY:
        for i in range(n):
            for j in range(m):
                Z[i, j] += b[j]
    else:
        for i in range(n):
            for j in range(m):
                Z[i, j] = activate(code, Z[i, j] + b[j], param)


@inline
def matmul(A, B, out, trans_a, trans_b):
    """``out <- op(A) @ op(B)``, ``op`` a transpose where asked.

    For row-major arrays this is BLAS's column-major ``out^T = op(B)^T @ op(A)^T``: each
    row-major matrix already is its transpose in column-major terms, so nothing is copied.
    """
    rows, cols = out.shape
    inner = A.shape[0] if trans_a else A.shape[1]
    gemm(trans_b, trans_a, cols, rows, inner, B, B.shape[1], A, A.shape[1], out, cols)


@kernel
def dense_forward(A_prev, W, b, out, code, param):
    """``out <- g(A_prev @ W + b)``."""
    matmul(A_prev, W, out, False, False)
    bias_activation(out, b, code, param)


@inline
def activation_backward(D_prev, A_prev, code, param, M):
    """In place: ``D_prev <- D_prev * g'`` with g' taken from the layer's output ``A_prev``
    (positive-slope activations only: not PReLU).

    ``M`` is the layer's inverted-dropout mask (0 or 1/keep per element) or an empty
    array: a dropped unit passes no gradient, a kept one stored ``a * m`` in ``A_prev``.
    """
    n, m = D_prev.shape
    masked = M.size > 0
    if not masked and code == RELU:
        zero = D_prev.dtype.type(0.0)
        for i in range(n):
            for j in range(m):
                D_prev[i, j] = D_prev[i, j] if A_prev[i, j] > zero else zero
        return
    if not masked and code == IDENTITY:
        return
    for i in range(n):
        for j in range(m):
            if masked:
                scale = M[i, j]
                if scale == 0.0:
                    D_prev[i, j] = 0.0
                else:
                    D_prev[i, j] *= scale * derivative(code, A_prev[i, j] / scale, param)
            else:
                D_prev[i, j] *= derivative(code, A_prev[i, j], param)


@kernel
def delta_backward(D, W, A_prev, D_prev, code, param, M):
    """``D_prev <- (D @ W.T) * g'(A_prev)``, the derivative taken from the layer's output
    (see :func:`activation_backward`)."""
    matmul(D, W, D_prev, False, True)
    activation_backward(D_prev, A_prev, code, param, M)


@inline
def draw_dropout(A, M, rate):
    """Inverted dropout in place: keep each unit with probability 1 - rate, scaled by 1/keep."""
    keep = 1.0 - rate
    n, m = A.shape
    for i in range(n):
        for j in range(m):
            if np.random.random() < keep:
                M[i, j] = 1.0 / keep
                A[i, j] *= M[i, j]
            else:
                M[i, j] = 0.0
                A[i, j] = 0.0


@kernel
def dense_grads(A_prev, D, W, gW, gb, l2):
    """``gW <- A_prev.T @ D + l2 * W`` and ``gb <- column sums of D``."""
    matmul(A_prev, D, gW, True, False)
    if l2 != 0.0:
        fan_in, fan_out = W.shape
        for k in range(fan_in):
            for j in range(fan_out):
                gW[k, j] += l2 * W[k, j]
    for j in range(gb.size):  # element loops compile far faster than slice assignment
        gb[j] = 0.0
    n, m = D.shape
    for i in range(n):
        for j in range(m):
            gb[j] += D[i, j]
