"""One dense layer on the CPU: fused bias + activation forward, delta backpropagation, grads.

Matrix products go through products.py (BLAS, or a micro-kernel for a few rows).
Everything element-wise is fused into a single pass over the product's output.
"""

import math

import numpy as np
from numba import types
from numba.extending import overload

from ..codes import IDENTITY, RELU, SOFTMAX
from ..scalar import activate, derivative
from .jit import INTERNAL, inline, kernel
from .products import product, product_nt, product_tn
from .views import flattened

# exp_nonpositive's constants: log2(e), and ln(2) split so that n * LN2_HI is exact.
LOG2E = 1.4426950408889634
LN2_HI = 0.6931471803691238
LN2_LO = 1.9082149292705877e-10


@inline
def exp_nonpositive(x):
    """``e**x`` for float64 ``x <= 0`` (or NaN, which it returns), to ~1e-8 relative: far
    below float32's round-off, not float64's. Unlike a libm call, LLVM vectorises a loop
    of these (softmax over 200 x 10 float32: 17 -> 6 us).

    e**x = 2**n * e**r with n = round(x / ln 2), |r| <= ln(2) / 2 (a degree-7 Taylor
    polynomial: error < r**8 / 8! ~ 7e-9); 2**n is built from its exponent bits. Below -200
    the result (< 1e-86) is 0 in float32; the clamp keeps 2**n a normal double.
    """
    x = -200.0 if x < -200.0 else x  # NaN passes through
    n = math.floor(x * LOG2E + 0.5)
    r = (x - n * LN2_HI) - n * LN2_LO
    p = 1.0 / 5040.0
    for c in (1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0):
        p = p * r + c
    return p * np.int64((np.int64(n) + 1023) << 52).view(np.float64)


@inline
def softmax_rows(Z, b):
    """In place: ``Z <- softmax(Z + b)`` row by row, shifted by the row max.

    The exponentials go through :func:`exp_block`: libm's exp for float64 (the exact
    parity with scikit-learn), :func:`exp_nonpositive` in one vectorised loop for float32.
    Its shifted arguments are rounded to float32, a relative error of at most
    ``|x| * 6e-8`` in a probability ``e**x`` (absolute: below 2.2e-8).
    """
    n, m = Z.shape
    for i in range(n):
        # The max over the sums as they are stored, not read back from Z (a row of an
        # output layer is too short for SIMD; 200 x 10 float32: 3.4 -> 2.4 us).
        z = Z[i, 0] + b[0]
        Z[i, 0] = z
        row_max = z
        for j in range(1, m):
            z = Z[i, j] + b[j]
            Z[i, j] = z
            row_max = max(row_max, z)
        for j in range(m):
            Z[i, j] -= row_max
    exp_block(Z)
    for i in range(n):
        total = 0.0
        for j in range(m):
            total += Z[i, j]
        inv = 1.0 / total
        for j in range(m):
            Z[i, j] *= inv


def exp_block(Z):
    """In place: ``Z <- e**Z`` for ``Z <= 0``. Compiled code gets the overload below:
    libm's exp for float64; for float32 :func:`exp_nonpositive` in one flat loop when Z
    is C-contiguous (a row of 10 is too short for SIMD to pay), row by row otherwise (a
    column slice)."""
    np.exp(Z, out=Z)


# Compiled once and called, not inlined at Numba's IR level: inlined, it cost a cold first
# fit ~0.15 s and saved nothing measurable (a call per softmax block).
@overload(exp_block, jit_options=INTERNAL)
def _exp_block(Z):
    if Z.dtype != types.float32:

        def libm_loops(Z):
            n, m = Z.shape
            for i in range(n):
                for j in range(m):
                    Z[i, j] = math.exp(Z[i, j])

        return libm_loops

    if Z.layout == "C":

        def flat_loop(Z):
            flat = flattened(Z)
            for k in range(flat.size):
                flat[k] = exp_nonpositive(np.float64(flat[k]))

        return flat_loop

    def row_loops(Z):
        n, m = Z.shape
        for i in range(n):
            for j in range(m):
                Z[i, j] = exp_nonpositive(np.float64(Z[i, j]))

    return row_loops


@inline
def bias_activation(Z, b, code, param):
    """In place: ``Z <- g(Z + b)``; softmax is row-wise and shifted by the row max."""
    n, m = Z.shape
    if code == SOFTMAX:
        softmax_rows(Z, b)
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


@kernel
def dense_forward(A_prev, W, b, out, code, param):
    """``out <- g(A_prev @ W + b)``."""
    product(A_prev, W, out)
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
    product_nt(D, W, D_prev)
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
    product_tn(A_prev, D, gW)
    if l2 != 0.0:
        # One flat loop in the weights' dtype: the 2-D loop, in float64 for float32 weights,
        # added 0.63 us to 16x64x64's 0.9 us; this one 0.19.
        g, w, coef = flattened(gW), flattened(W), gW.dtype.type(l2)
        for k in range(g.size):
            g[k] += coef * w[k]
    for j in range(gb.size):  # element loops compile far faster than slice assignment
        gb[j] = 0.0
    n, m = D.shape
    for i in range(n):
        for j in range(m):
            gb[j] += D[i, j]
