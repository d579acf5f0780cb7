"""Inference: the network's outputs for many rows, input checks included, in one call.

Prediction is latency-bound for a few rows: the kernel takes plain arrays (Numba
dispatches on them in C, where a namedtuple argument costs microseconds of Python-level
typing) and checks the input's finiteness itself, one chunk at a time while the chunk is
in cache, instead of a separate NumPy sweep over the data.
"""

import math

import numpy as np

from ..layout import (
    PREDICT_BAD_INPUT,
    PREDICT_OK,
    PREDICT_OVERFLOW,
    UNIT_START,
    batch_norm_settings,
)
from .fpenv import flush_denormals, restore_fpenv
from .jit import inline, kernel, refcounted_kernel
from .network import Model, Workspace, forward_layers


@inline
def all_finite(X, start, stop):
    ok = True
    width = X.shape[1]
    for i in range(start, stop):
        for j in range(width):
            ok &= math.isfinite(X[i, j])
    return ok


@kernel
def predict(params, layers, act_params, state, bn, X, out, acts, pre, mean, inv_std):
    """``out <- network(X)`` in chunks of ``acts.size // n_units`` rows; returns a
    ``PREDICT_*`` status (layout.py): a NaN or infinity in X stops at its chunk.

    ``state``, ``bn``, ``pre``, ``mean`` and ``inv_std`` are as in ``Model`` and
    ``Workspace`` (network.py): ``state`` None for a network without batch norm and PReLU
    (the others then empty), batch norm with the running statistics (``bn`` says
    inference) unless the caller folded it into the weights.
    """
    saved = flush_denormals()
    model = Model(params, layers, act_params, 0, state, bn)
    n_units = out.shape[1] + layers[layers.shape[0] - 1, UNIT_START]
    capacity = acts.size // n_units
    ws = Workspace(capacity, acts, acts[:0], acts[:0], None, pre, mean, inv_std)
    n = X.shape[0]
    status = PREDICT_OK
    for start in range(0, n, capacity):
        stop = min(start + capacity, n)
        if not all_finite(X, start, stop):
            status = PREDICT_BAD_INPUT
            break
        result = forward_layers(model, X[start:stop], ws)
        finite = True
        for i in range(stop - start):
            for j in range(out.shape[1]):
                out[start + i, j] = result[i, j]
                finite &= math.isfinite(result[i, j])
        if not finite:
            status = PREDICT_OVERFLOW
    restore_fpenv(saved)
    return status


_NO_BATCH_NORM = batch_norm_settings()  # a constant of the compiled code, never written


@refcounted_kernel
def predict_plain(params, layers, act_params, X, out, chunk_rows):
    """:func:`predict` for a network without batch norm and PReLU, with six arguments
    instead of eleven and a workspace for ``chunk_rows`` rows allocated here: Numba's
    dispatch costs ~50 ns an argument and NumPy's allocation ~170 ns, against ~1 us for
    a one-row prediction of 64-64-64-10."""
    n_units = out.shape[1] + layers[layers.shape[0] - 1, UNIT_START]
    acts = np.empty(min(chunk_rows, X.shape[0]) * n_units, dtype=out.dtype)
    none = acts[:0]
    return predict(params, layers, act_params, None, _NO_BATCH_NORM, X, out, acts, none, none, none)
