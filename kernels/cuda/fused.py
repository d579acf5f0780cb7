"""The fully fused small-width path: every layer of a narrow float32 network in one launch.

In the spirit of tiny-cuda-nn's fully fused MLP: a block of FUSED_WIDTH threads takes
FUSED_ROWS batch rows and runs them through every layer with the activations in shared
memory (two ping-pong buffers of FUSED_ROWS x FUSED_WIDTH). Thread ``j`` computes unit
``j`` of a layer for all the block's rows at once: it reads each weight ``W[k, j]`` once
from global memory (consecutive threads, consecutive addresses) and applies it to
FUSED_ROWS activations read from shared memory (one address for the whole warp: a
broadcast), accumulating in registers. Each layer's output is also stored to the
workspace, which the loss and the weight gradients read. Numba has no tensor-core
intrinsics: this is FP32 FMA, and the gain is the launches and the global-memory round
trips saved between layers.

The backward kernel propagates the deltas through every layer the same way (thread ``j``
computes input unit ``j`` of a layer, reading row ``j`` of W). The weight gradients are
sums over the whole batch, across blocks: they stay the tiled products of dense.py (as in
tiny-cuda-nn, which computes them with separate matrix products too).
"""

import math

from numba import cuda

from ..codes import IDENTITY, RELU, SOFTMAX
from ..layout import B_START, CODE, FAN_IN, FAN_OUT, UNIT_START, W_START
from ..scalar import activate, derivative
from .jit import FUSED_ROWS, FUSED_WIDTH, kernel, per_dtype


@per_dtype
def build(float_t):
    zero = float_t(0.0)

    @kernel
    def fused_forward(X, params, layers, act_params, acts, capacity):
        """Every layer for rows ``[b * FUSED_ROWS, (b + 1) * FUSED_ROWS)`` of ``X``, block
        ``b``; layer l's outputs land in its workspace block of ``acts``."""
        buf_a = cuda.shared.array((FUSED_ROWS, FUSED_WIDTH), float_t)
        buf_b = cuda.shared.array((FUSED_ROWS, FUSED_WIDTH), float_t)
        acc = cuda.local.array(FUSED_ROWS, float_t)
        t = cuda.threadIdx.x
        row0 = cuda.blockIdx.x * FUSED_ROWS
        n, d_in = X.shape
        for r in range(FUSED_ROWS):
            i = row0 + r
            if t < d_in:
                buf_a[r, t] = X[i, t] if i < n else zero
        cuda.syncthreads()
        for l in range(layers.shape[0]):
            src, dst = (buf_a, buf_b) if l % 2 == 0 else (buf_b, buf_a)
            fan_in, fan_out = layers[l, FAN_IN], layers[l, FAN_OUT]
            w0, code, param = layers[l, W_START], layers[l, CODE], act_params[l]
            out0 = capacity * layers[l, UNIT_START]
            if t < fan_out:
                for r in range(FUSED_ROWS):
                    acc[r] = zero
                for k in range(fan_in):
                    w = params[w0 + k * fan_out + t]
                    for r in range(FUSED_ROWS):
                        acc[r] += src[r, k] * w
                b = params[layers[l, B_START] + t]
                for r in range(FUSED_ROWS):
                    z = acc[r] + b
                    if code == SOFTMAX:
                        a = z
                    elif code == RELU:
                        a = z if z > zero else zero
                    else:
                        a = activate(code, z, param)
                    dst[r, t] = a
                    if row0 + r < n and code != SOFTMAX:
                        acts[out0 + (row0 + r) * fan_out + t] = a
            cuda.syncthreads()
            if code == SOFTMAX and t < FUSED_ROWS and row0 + t < n:
                # Row t of the tile, shifted by its max (the output layer only).
                row_max = -math.inf
                for j in range(fan_out):
                    row_max = max(row_max, dst[t, j])
                total = 0.0
                for j in range(fan_out):
                    total += math.exp(dst[t, j] - row_max)
                inv = 1.0 / total
                for j in range(fan_out):
                    acts[out0 + (row0 + t) * fan_out + j] = math.exp(dst[t, j] - row_max) * inv

    @kernel
    def fused_deltas(params, layers, act_params, acts, deltas, capacity, n):
        """Deltas of every layer below the output for block ``b``'s rows, from the output
        delta in ``deltas``: ``D_{l-1} <- (D_l @ W_l.T) * g'(A_{l-1})``."""
        buf_a = cuda.shared.array((FUSED_ROWS, FUSED_WIDTH), float_t)
        buf_b = cuda.shared.array((FUSED_ROWS, FUSED_WIDTH), float_t)
        acc = cuda.local.array(FUSED_ROWS, float_t)
        t = cuda.threadIdx.x
        row0 = cuda.blockIdx.x * FUSED_ROWS
        last = layers.shape[0] - 1
        width = layers[last, FAN_OUT]
        start = capacity * layers[last, UNIT_START]
        for r in range(FUSED_ROWS):
            i = row0 + r
            if t < width:
                buf_a[r, t] = deltas[start + i * width + t] if i < n else zero
        cuda.syncthreads()
        for step in range(last):
            l = last - step
            src, dst = (buf_a, buf_b) if step % 2 == 0 else (buf_b, buf_a)
            fan_in, fan_out = layers[l, FAN_IN], layers[l, FAN_OUT]
            w0 = layers[l, W_START]
            code, param = layers[l - 1, CODE], act_params[l - 1]
            below = capacity * layers[l - 1, UNIT_START]
            if t < fan_in:
                for r in range(FUSED_ROWS):
                    acc[r] = zero
                for m in range(fan_out):
                    w = params[w0 + t * fan_out + m]
                    for r in range(FUSED_ROWS):
                        acc[r] += src[r, m] * w
                for r in range(FUSED_ROWS):
                    i = row0 + r
                    d = zero
                    if i < n:
                        a = acts[below + i * fan_in + t]
                        d = acc[r]
                        if code == RELU:
                            d = d if a > zero else zero
                        elif code != IDENTITY:
                            d *= derivative(code, a, param)
                        deltas[below + i * fan_in + t] = d
                    dst[r, t] = d
            cuda.syncthreads()

    return fused_forward, fused_deltas
