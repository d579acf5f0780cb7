"""Per-layer views of the flat buffers, made inside the kernels.

Every per-layer array the kernels touch (weights, intercepts, activations, deltas, dropout
masks, and the same for gradients) lives in one flat buffer per kind; a small integer table
(``layer_table``) says where each layer's blocks start. Kernels therefore take a handful of
arrays whatever the network's depth, so one compilation (and one on-disk cache entry)
serves every depth, and Numba's per-call dispatch stays short.

``matrix`` builds a C-contiguous 2-D view in a few instructions. NumPy-style
``flat[a:b].reshape(r, c)`` would do the same but goes through Numba's general reshape
(~60 ns a view, twenty views a step); tuples of views made in Python instead cost ~3 s of
compilation per depth (each tuple's length is part of the compiled type) and ~25 us of
dispatch per call.
"""

import numpy as np
from numba import njit, types
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic
from numba.np.arrayobj import make_array, populate_array

from ..config import INLINE

# Columns of the layer table, one row per weight layer.
FAN_IN = 0
FAN_OUT = 1
W_START = 2  # first weight of the layer in params' layout (row-major fan_in x fan_out)
B_START = 3  # first intercept of the layer (after all the weights)
UNIT_START = 4  # units of the earlier layers: where the layer's block starts in workspaces
CODE = 5  # activation code
N_LAYER_FIELDS = 6


def layer_table(layer_sizes, activation_codes):
    """The ``(n_layers, N_LAYER_FIELDS)`` int64 table of a network with these sizes."""
    n_layers = len(layer_sizes) - 1
    table = np.zeros((n_layers, N_LAYER_FIELDS), dtype=np.int64)
    n_weights = sum(a * b for a, b in zip(layer_sizes[:-1], layer_sizes[1:]))
    w, b, units = 0, n_weights, 0
    for l, (fan_in, fan_out) in enumerate(zip(layer_sizes[:-1], layer_sizes[1:])):
        table[l] = fan_in, fan_out, w, b, units, activation_codes[l]
        w += fan_in * fan_out
        b += fan_out
        units += fan_out
    return table


@intrinsic
def _matrix_view(typingctx, flat, start, rows, cols):
    """``flat[start:start + rows * cols].reshape(rows, cols)``, unchecked."""
    view_type = types.Array(flat.dtype, 2, "C")

    def codegen(context, builder, signature, args):
        flat_type = signature.args[0]
        src = make_array(flat_type)(context, builder, args[0])
        start, n_rows, n_cols = (
            context.cast(builder, value, ty, types.intp)
            for value, ty in zip(args[1:], signature.args[1:])
        )
        itemsize = src.itemsize
        view = make_array(view_type)(context, builder)
        populate_array(
            view,
            data=builder.gep(src.data, [start]),
            shape=[n_rows, n_cols],
            strides=[builder.mul(n_cols, itemsize), itemsize],
            itemsize=itemsize,
            meminfo=src.meminfo,
            parent=src.parent,
        )
        return impl_ret_borrowed(context, builder, view_type, view._getvalue())

    return view_type(flat, start, rows, cols), codegen


@njit(**INLINE)
def matrix(flat, start, rows, cols):
    """A (rows, cols) C-contiguous view of ``flat`` from ``start``; bounds are the caller's
    promise (the layer table and the buffers are made together, by the Network)."""
    return _matrix_view(flat, start, rows, cols)


@njit(**INLINE)
def weights(flat, layers, l):
    """Layer ``l``'s (fan_in, fan_out) weights in a buffer of params' layout."""
    return _matrix_view(flat, layers[l, W_START], layers[l, FAN_IN], layers[l, FAN_OUT])


@njit(**INLINE)
def intercepts(flat, layers, l):
    start = layers[l, B_START]
    return flat[start : start + layers[l, FAN_OUT]]


@njit(**INLINE)
def block(buffer, capacity, layers, l, n):
    """The first ``n`` rows of layer ``l``'s (capacity, fan_out) block in a workspace."""
    width = layers[l, FAN_OUT]
    return _matrix_view(buffer, capacity * layers[l, UNIT_START], n, width)
