"""Scalar activation math, written once and shared by the CPU and CUDA kernels.

Derivatives are expressed in terms of the activation's *output* ``a`` (as scikit-learn does),
so the backward pass never needs the pre-activations: for the relu family the sign of ``a``
equals the sign of ``z`` (slope > 0), and for elu ``g'(z) = a + alpha`` when ``z <= 0``.
"""

import math

from numba.extending import register_jitable

from .codes import ELU, EXP, IDENTITY, LEAKY_RELU, LOGISTIC, RELU, TANH


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
