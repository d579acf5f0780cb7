"""Scalar activation and loss math, written once and shared by the CPU and CUDA kernels.

Derivatives are expressed in terms of the activation's *output* ``a`` (as scikit-learn does),
so the backward pass never needs the pre-activations: for the relu family the sign of ``a``
equals the sign of ``z`` (slope > 0), and for elu ``g'(z) = a + alpha`` when ``z <= 0``.
"""

import math

from numba.extending import register_jitable

from .codes import (
    BINARY_LOG_LOSS,
    ELU,
    EXP,
    IDENTITY,
    LEAKY_RELU,
    LOG_LOSS,
    LOGISTIC,
    POISSON,
    RELU,
    SOFTMAX,
    SQUARED_ERROR,
    TANH,
)


@register_jitable
def logistic(z):
    # Two branches keep exp() from overflowing for large |z|.
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@register_jitable
def activate(code, z, param):
    """g(z) for one element; ``param`` is leaky_relu's slope or elu's alpha."""
    if code == RELU:
        return z if z > 0 else 0.0 * z
    if code == IDENTITY:
        return z
    if code == LOGISTIC:
        return logistic(z)
    if code == TANH:
        return math.tanh(z)
    if code == LEAKY_RELU:
        return z if z > 0 else param * z
    if code == ELU:
        return z if z > 0 else param * math.expm1(z)
    if code == EXP:
        return math.exp(z)
    return math.nan  # softmax is row-wise: handled by the caller


@register_jitable
def derivative(code, a, param):
    """g'(z) for one element, written in terms of the output a = g(z)."""
    if code == RELU:
        return 1.0 if a > 0 else 0.0
    if code == IDENTITY:
        return 1.0
    if code == LOGISTIC:
        return a * (1.0 - a)
    if code == TANH:
        return 1.0 - a * a
    if code == LEAKY_RELU:
        return 1.0 if a > 0 else param
    if code == ELU:
        return 1.0 if a > 0 else a + param
    if code == EXP:
        return a
    return math.nan


# ---- losses (per element; the output kernels of both targets sum them) ----------------------
@register_jitable
def xlogy(x, y):
    """x * log(y), defined as 0 when x == 0 (as scipy.special.xlogy)."""
    if x == 0.0:
        return 0.0
    return x * math.log(y)


@register_jitable
def pointwise_loss(loss_code, a, y, eps):
    if loss_code == SQUARED_ERROR:
        return 0.5 * (a - y) * (a - y)
    if loss_code == LOG_LOSS:
        return -xlogy(y, min(max(a, eps), 1.0 - eps))
    if loss_code == BINARY_LOG_LOSS:
        p = min(max(a, eps), 1.0 - eps)
        return -(xlogy(y, p) + xlogy(1.0 - y, 1.0 - p))
    return xlogy(y, y / a) - y + a  # poisson: half the deviance


@register_jitable
def pointwise_loss_grad(loss_code, a, y):
    """dLoss/da for one element (clipping ignored, as in scikit-learn's deltas)."""
    if loss_code == SQUARED_ERROR:
        return a - y
    if loss_code == LOG_LOSS:
        return -y / a
    if loss_code == BINARY_LOG_LOSS:
        return (a - y) / (a * (1.0 - a))
    return 1.0 - y / a


@register_jitable
def is_canonical(out_code, loss_code):
    return (
        (out_code == IDENTITY and loss_code == SQUARED_ERROR)
        or (out_code == SOFTMAX and loss_code == LOG_LOSS)
        or (out_code == LOGISTIC and loss_code == BINARY_LOG_LOSS)
        or (out_code == EXP and loss_code == POISSON)
    )
