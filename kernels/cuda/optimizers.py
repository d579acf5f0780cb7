"""In-place optimizer updates on a CUDA device: one grid-stride pass over the flat buffers.

The formulas and the casts are the CPU kernels' (cpu/optimizers.py): scalars are cast to
the parameters' type, so float32 updates run in float32. The update reads the step count,
the clipping factor and the divergence flag from device memory, where the step's earlier
kernels left them, so a training step never waits on the host.
"""

import math

from numba import cuda

from ..codes import ADAGRAD, ADAM, ADAMW, RMSPROP, SGD
from ..layout import (
    HP_BETA_1,
    HP_BETA_2,
    HP_EPSILON,
    HP_LR,
    HP_MOMENTUM,
    HP_NESTEROV,
    HP_RHO,
    HP_WEIGHT_DECAY,
    STAT_DIVERGED,
)
from .jit import kernel, per_dtype
from .slots import RED_CLIP


@per_dtype
def build(T):
    @kernel
    def update_params(solver, params, grad, state1, state2, step, hp, n_decay, red, stats):
        """One update with the gradient times ``red[RED_CLIP]``; nothing once
        ``stats[STAT_DIVERGED]`` is set. ``step[0]`` is the 1-based update count."""
        if stats[STAT_DIVERGED] != 0.0:
            return
        start = cuda.grid(1)
        stride = cuda.gridsize(1)
        clip = T(red[RED_CLIP])
        lr = hp[HP_LR]
        if solver == SGD:
            lr_t, mu = T(lr), T(hp[HP_MOMENTUM])
            nesterov = hp[HP_NESTEROV] != 0.0
            for k in range(start, params.size, stride):
                g = grad[k] * clip
                vel = mu * state1[k] - lr_t * g
                state1[k] = vel
                params[k] += mu * vel - lr_t * g if nesterov else vel
        elif solver == ADAM or solver == ADAMW:
            t = step[0]
            beta_1, beta_2 = hp[HP_BETA_1], hp[HP_BETA_2]
            lr_t = T(lr * math.sqrt(1.0 - beta_2**t) / (1.0 - beta_1**t))
            b1, b2, c1, c2 = T(beta_1), T(beta_2), T(1.0 - beta_1), T(1.0 - beta_2)
            decay = T(lr * hp[HP_WEIGHT_DECAY]) if solver == ADAMW else T(0.0)
            eps = T(hp[HP_EPSILON])
            for k in range(start, params.size, stride):
                g = grad[k] * clip
                m_k = b1 * state1[k] + c1 * g
                v_k = b2 * state2[k] + c2 * g * g
                state1[k] = m_k
                state2[k] = v_k
                update = lr_t * m_k / (math.sqrt(v_k) + eps)
                if k < n_decay:
                    update += decay * params[k]
                params[k] -= update
        elif solver == ADAGRAD:
            lr_t, eps = T(lr), T(hp[HP_EPSILON])
            for k in range(start, params.size, stride):
                g = grad[k] * clip
                a = state1[k] + g * g
                state1[k] = a
                params[k] -= lr_t * g / (math.sqrt(a) + eps)
        elif solver == RMSPROP:
            lr_t, rho, one_minus_rho, eps = (
                T(lr),
                T(hp[HP_RHO]),
                T(1.0 - hp[HP_RHO]),
                T(hp[HP_EPSILON]),
            )
            for k in range(start, params.size, stride):
                g = grad[k] * clip
                s = rho * state1[k] + one_minus_rho * g * g
                state1[k] = s
                params[k] -= lr_t * g / (math.sqrt(s) + eps)

    return update_params
