"""One dense layer on a CUDA device: fused forward, delta backpropagation, gradients.

The three matrix products are tiled through shared memory: a block of TILE x TILE
threads computes a TILE x TILE tile of the output, stepping through the inner dimension
one TILE-wide slab at a time (each slab read once from global memory per block, then
TILE times from shared memory). Every element-wise step is applied to the accumulator
before the single store: bias and activation (forward), the activation's derivative and
the dropout mask (delta), the L2 term (gradients). Tiles are loaded so that consecutive
threads read consecutive addresses (coalesced), transposing through shared memory where
the product needs a transposed operand; the transposed tiles get one padding column so
the transposing store hits distinct banks.
"""

import math

from numba import cuda
from numba.cuda.random import xoroshiro128p_uniform_float64

from ..codes import IDENTITY, RELU, SOFTMAX
from ..layout import HP_ALPHA
from ..scalar import activate, derivative
from .jit import PADDED, TILE, device, kernel, per_dtype
from .slots import RED_SW_SUM


@per_dtype
def build(float_t):
    zero = float_t(0.0)

    @kernel
    def dense_forward(A, W, b, out, code, param):
        """``out <- g(A @ W + b)``; a softmax layer gets ``A @ W + b`` (softmax_rows
        finishes it, row-wise)."""
        sA = cuda.shared.array((TILE, TILE), float_t)
        sW = cuda.shared.array((TILE, TILE), float_t)
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        row = cuda.blockIdx.y * TILE + ty
        col = cuda.blockIdx.x * TILE + tx
        n, inner = A.shape
        m = W.shape[1]
        acc = zero
        for t0 in range(0, inner, TILE):
            k = t0 + tx
            sA[ty, tx] = A[row, k] if row < n and k < inner else zero
            k = t0 + ty
            sW[ty, tx] = W[k, col] if k < inner and col < m else zero
            cuda.syncthreads()
            for kk in range(TILE):
                acc += sA[ty, kk] * sW[kk, tx]
            cuda.syncthreads()
        if row < n and col < m:
            z = acc + b[col]
            if code == SOFTMAX:
                out[row, col] = z
            elif code == RELU:
                out[row, col] = z if z > zero else zero
            else:
                out[row, col] = activate(code, z, param)

    @kernel
    def delta_backward(D, W, A_prev, D_prev, code, param, M):
        """``D_prev <- (D @ W.T) * g'(A_prev)`` (the derivative from the layer's output);
        ``M`` is the layer's inverted-dropout mask or an empty array (as on the CPU)."""
        sD = cuda.shared.array((TILE, TILE), float_t)
        sWt = cuda.shared.array((TILE, PADDED), float_t)  # W^T tile, padded
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        row = cuda.blockIdx.y * TILE + ty
        col = cuda.blockIdx.x * TILE + tx
        col0 = cuda.blockIdx.x * TILE
        n, inner = D.shape
        m = W.shape[0]
        acc = zero
        for t0 in range(0, inner, TILE):
            k = t0 + tx
            sD[ty, tx] = D[row, k] if row < n and k < inner else zero
            # W[col0 + ty, t0 + tx] read along rows (coalesced), stored transposed.
            sWt[tx, ty] = W[col0 + ty, k] if col0 + ty < m and k < inner else zero
            cuda.syncthreads()
            for kk in range(TILE):
                acc += sD[ty, kk] * sWt[kk, tx]
            cuda.syncthreads()
        if row < n and col < m:
            a = A_prev[row, col]
            if M.size > 0:
                scale = M[row, col]
                if scale == 0.0:
                    acc = zero
                else:
                    acc *= scale * derivative(code, a / scale, param)
            elif code == RELU:
                acc = acc if a > zero else zero
            elif code != IDENTITY:
                acc *= derivative(code, a, param)
            D_prev[row, col] = acc

    @device
    def finish_grad(acc, row, col, fan_in, W, gW, gb, hp, red):
        """Store one entry of the gradient product: a weight's (plus the L2 term) or,
        in row ``fan_in``, an intercept's."""
        if row < fan_in:
            alpha = hp[HP_ALPHA]
            if alpha != 0.0:
                acc += (alpha / red[RED_SW_SUM]) * W[row, col]
            gW[row, col] = acc
        elif row == fan_in:
            gb[col] = acc

    @kernel
    def dense_grads(A_prev, D, W, gW, gb, hp, red, part):
        """``gW <- A_prev.T @ D + (alpha / S) W`` and ``gb <- column sums of D``.

        The intercepts' gradient is row ``fan_in`` of the same product, with a row of ones
        standing in for ``A_prev.T``'s: one launch, and the column sums run in parallel.
        The batch (the inner dimension) is split across ``gridDim.z`` slices: with more
        than one, slice z writes its partial product to ``part[z]`` for ``sum_splits``.
        """
        sAt = cuda.shared.array((TILE, PADDED), float_t)  # A_prev^T tile, padded
        sD = cuda.shared.array((TILE, TILE), float_t)
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        row = cuda.blockIdx.y * TILE + ty
        col = cuda.blockIdx.x * TILE + tx
        row0 = cuda.blockIdx.y * TILE
        n, fan_in = A_prev.shape
        m = D.shape[1]
        splits = cuda.gridDim.z
        chunk = ((n + splits - 1) // splits + TILE - 1) // TILE * TILE
        lo = cuda.blockIdx.z * chunk
        hi = min(lo + chunk, n)
        acc = zero
        for t0 in range(lo, hi, TILE):
            i = t0 + ty
            r = row0 + tx
            # A_prev[t0 + ty, row0 + tx] read along rows, stored transposed.
            if i < hi and r < fan_in:
                sAt[tx, ty] = A_prev[i, r]
            elif i < hi and r == fan_in:
                sAt[tx, ty] = float_t(1.0)
            else:
                sAt[tx, ty] = zero
            sD[ty, tx] = D[i, col] if i < hi and col < m else zero
            cuda.syncthreads()
            for kk in range(TILE):
                acc += sAt[ty, kk] * sD[kk, tx]
            cuda.syncthreads()
        if col < m and row <= fan_in:
            if splits == 1:
                finish_grad(acc, row, col, fan_in, W, gW, gb, hp, red)
            else:
                part[cuda.blockIdx.z, row, col] = acc

    @kernel
    def sum_splits(part, W, gW, gb, hp, red):
        """``gW, gb`` from the slices' partial products, summed in slice order."""
        fan_in, m = W.shape
        for idx in range(cuda.grid(1), (fan_in + 1) * m, cuda.gridsize(1)):
            row = idx // m
            col = idx - row * m
            acc = zero
            for z in range(part.shape[0]):
                acc += part[z, row, col]
            finish_grad(acc, row, col, fan_in, W, gW, gb, hp, red)

    @kernel
    def softmax_rows(Z):
        """In place, one thread a row: ``Z <- softmax(Z)``, shifted by the row max."""
        i = cuda.grid(1)
        if i >= Z.shape[0]:
            return
        m = Z.shape[1]
        row_max = -math.inf
        for j in range(m):
            row_max = max(row_max, Z[i, j])
        total = 0.0
        for j in range(m):
            e = math.exp(Z[i, j] - row_max)
            Z[i, j] = e
            total += e
        inv = 1.0 / total
        for j in range(m):
            Z[i, j] *= inv

    @kernel
    def draw_dropout(A, M, rate, states):
        """Inverted dropout in place: keep each unit with probability 1 - rate, scaled by
        1/keep; thread t draws from random stream t, striding over the elements."""
        tid = cuda.grid(1)
        stride = cuda.gridsize(1)
        keep = 1.0 - rate
        n, m = A.shape
        for idx in range(tid, n * m, stride):
            i = idx // m
            j = idx - i * m
            if xoroshiro128p_uniform_float64(states, tid) < keep:
                M[i, j] = 1.0 / keep
                A[i, j] *= M[i, j]
            else:
                M[i, j] = zero
                A[i, j] = zero

    return dense_forward, delta_backward, dense_grads, softmax_rows, draw_dropout, sum_splits
