"""In-place optimizer updates: one fused pass over the flat parameter buffer.

``state1``/``state2`` share the parameters' layout: the velocity (sgd), first and second
moments (adam, adamw), the squared-gradient sum (adagrad) or running mean (rmsprop).
``n_decay`` entries at the front of the buffer (the weights) get adamw's weight decay.
Scalars are cast to the parameters' dtype first, so float32 updates run in float32 SIMD
lanes (twice as many, and no conversions) instead of being promoted to float64.
"""

import math

import numpy as np

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
)
from .fpenv import flush_denormals, restore_fpenv
from .jit import divisions_by_estimate, inline, kernel


@inline
def sgd_update(params, grad, velocity, lr, momentum, nesterov):
    """v <- mu v - lr g; w <- w + v (Nesterov: w <- w + mu v - lr g), scikit-learn's form."""
    T = params.dtype.type
    lr, momentum = T(lr), T(momentum)
    for k in range(params.size):
        g = grad[k]
        vel = momentum * velocity[k] - lr * g
        velocity[k] = vel
        params[k] += momentum * vel - lr * g if nesterov else vel


@inline
def adam_update(params, grad, m, v, step, lr, beta_1, beta_2, epsilon, weight_decay, n_decay):
    """scikit-learn's Adam (bias correction folded into the rate) plus AdamW's decoupled
    decay ``w <- w - lr * weight_decay * w`` on the first ``n_decay`` entries."""
    T = params.dtype.type
    lr_t = T(lr * math.sqrt(1.0 - beta_2**step) / (1.0 - beta_1**step))
    b1, b2, c1, c2 = T(beta_1), T(beta_2), T(1.0 - beta_1), T(1.0 - beta_2)
    eps, decay = T(epsilon), T(lr * weight_decay)
    # Two loops, each from index 0, not a test of k in one loop nor a loop from a runtime
    # start (whose index might wrap around): LLVM vectorises only these well (20-64-64-2's
    # 5634 float32 parameters: 4.07 -> 2.59 us on an AMD EPYC, docs/benchmarks.md).
    decayed = n_decay if weight_decay != 0.0 else 0
    for k in range(decayed):
        params[k] -= adam_step(grad, m, v, k, lr_t, b1, b2, c1, c2, eps) + decay * params[k]
    rest = params[decayed:]
    grad, m, v = grad[decayed:], m[decayed:], v[decayed:]
    for k in range(rest.size):
        rest[k] -= adam_step(grad, m, v, k, lr_t, b1, b2, c1, c2, eps)


@inline
def adam_step(grad, m, v, k, lr_t, b1, b2, c1, c2, eps):
    """Entry ``k``'s moments updated in place; returns its step ``lr_t m / (sqrt(v) + eps)``."""
    g = grad[k]
    m_k = b1 * m[k] + c1 * g
    v_k = b2 * v[k] + c2 * g * g
    m[k] = m_k
    v[k] = v_k
    return lr_t * m_k / (np.sqrt(v_k) + eps)


@inline
def adagrad_update(params, grad, accum, lr, epsilon):
    """G <- G + g^2; w <- w - lr g / (sqrt(G) + eps)."""
    T = params.dtype.type
    lr, eps = T(lr), T(epsilon)
    for k in range(params.size):
        g = grad[k]
        a = accum[k] + g * g
        accum[k] = a
        params[k] -= lr * g / (np.sqrt(a) + eps)


@inline
def rmsprop_update(params, grad, sq_avg, lr, rho, epsilon):
    """s <- rho s + (1 - rho) g^2; w <- w - lr g / (sqrt(s) + eps)."""
    T = params.dtype.type
    lr, rho, one_minus_rho, eps = T(lr), T(rho), T(1.0 - rho), T(epsilon)
    for k in range(params.size):
        g = grad[k]
        s = rho * sq_avg[k] + one_minus_rho * g * g
        sq_avg[k] = s
        params[k] -= lr * g / (np.sqrt(s) + eps)


@divisions_by_estimate
def update_params(solver, params, grad, state1, state2, step, hp, n_decay):
    """Dispatch on the solver code; ``step`` is the 1-based update count (adam's t)."""
    lr = hp[HP_LR]
    if solver == SGD:
        sgd_update(params, grad, state1, lr, hp[HP_MOMENTUM], hp[HP_NESTEROV] != 0.0)
    elif solver == ADAM or solver == ADAMW:
        decay = hp[HP_WEIGHT_DECAY] if solver == ADAMW else 0.0
        adam_update(
            params,
            grad,
            state1,
            state2,
            step,
            lr,
            hp[HP_BETA_1],
            hp[HP_BETA_2],
            hp[HP_EPSILON],
            decay,
            n_decay,
        )
    elif solver == ADAGRAD:
        adagrad_update(params, grad, state1, lr, hp[HP_EPSILON])
    elif solver == RMSPROP:
        rmsprop_update(params, grad, state1, lr, hp[HP_RHO], hp[HP_EPSILON])


@kernel
def optimizer_update(solver, params, grad, state1, state2, step, hp, n_decay):
    """Entry point for :func:`update_params` (one update, called from Python)."""
    saved = flush_denormals()
    update_params(solver, params, grad, state1, state2, step, hp, n_decay)
    restore_fpenv(saved)
