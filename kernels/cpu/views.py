"""Per-layer views of the flat buffers, made inside the kernels.

Every per-layer array the kernels touch (weights, intercepts, activations, deltas, dropout
masks, and the same for gradients) lives in one flat buffer per kind; a small integer table
(``layout.lay_out``) says where each layer's blocks start. Kernels therefore take a handful of
arrays whatever the network's depth, so one compilation (and one on-disk cache entry)
serves every depth, and Numba's per-call dispatch stays short.

The view functions are intrinsics: a view costs a few instructions. NumPy-style
``flat[a:b].reshape(r, c)`` would do the same but goes through Numba's general reshape
(~20 ns a view, twenty views a step). Tuples of views made in Python, the earlier design,
cost ~3 s of compilation per new depth (a tuple's length is part of the compiled type) and
made Numba dispatch on ~30 arrays per call (the unchecked loss_and_grad of 20-64-64-2 at
batch 16 took 26 us a call with them, 19.5 us without).
"""

from numba import types
from numba.core import cgutils
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic
from numba.np.arrayobj import make_array, populate_array

from .. import layout
from ..layout import B_START, FAN_IN, FAN_OUT, UNIT_START, W_START
from .jit import inline


def _view(context, builder, flat_type, flat, start, shape):
    """A C-contiguous view of ``flat`` with ``shape`` from element ``start``; it shares the
    buffer's memory owner (as NumPy's views do), so it may outlive the kernel."""
    src = make_array(flat_type)(context, builder, flat)
    view_type = types.Array(flat_type.dtype, len(shape), "C")
    view = make_array(view_type)(context, builder)
    itemsize = src.itemsize
    strides = [itemsize]
    for extent in reversed(shape[1:]):
        strides.insert(0, builder.mul(strides[0], extent))
    populate_array(
        view,
        data=builder.gep(src.data, [start]),
        shape=shape,
        strides=strides,
        itemsize=itemsize,
        meminfo=src.meminfo,
        parent=src.parent,
    )
    return impl_ret_borrowed(context, builder, view_type, view._getvalue())


def _reader(context, builder, signature, args, table_arg, row_arg):
    """A function reading column ``c`` of row ``args[row_arg]`` of the layer table."""
    table_type = signature.args[table_arg]
    table = make_array(table_type)(context, builder, args[table_arg])
    row = context.cast(builder, args[row_arg], signature.args[row_arg], types.intp)

    def read(column):
        index = [row, context.get_constant(types.intp, column)]
        return builder.load(cgutils.get_item_pointer(context, builder, table_type, table, index))

    return read


def _intp(context, builder, signature, args, i):
    return context.cast(builder, args[i], signature.args[i], types.intp)


@intrinsic
def weights(typingctx, flat, layers, l):
    """Layer ``l``'s (fan_in, fan_out) weights in a buffer of params' layout."""

    def codegen(context, builder, signature, args):
        read = _reader(context, builder, signature, args, 1, 2)
        return _view(
            context,
            builder,
            signature.args[0],
            args[0],
            read(W_START),
            [read(FAN_IN), read(FAN_OUT)],
        )

    return types.Array(flat.dtype, 2, "C")(flat, layers, l), codegen


@intrinsic
def intercepts(typingctx, flat, layers, l):
    """Layer ``l``'s (fan_out,) intercepts in a buffer of params' layout."""

    def codegen(context, builder, signature, args):
        read = _reader(context, builder, signature, args, 1, 2)
        return _view(context, builder, signature.args[0], args[0], read(B_START), [read(FAN_OUT)])

    return types.Array(flat.dtype, 1, "C")(flat, layers, l), codegen


@intrinsic
def block(typingctx, buffer, capacity, layers, l, n):
    """The first ``n`` rows of layer ``l``'s (capacity, fan_out) block in a workspace."""

    def codegen(context, builder, signature, args):
        read = _reader(context, builder, signature, args, 2, 3)
        start = builder.mul(_intp(context, builder, signature, args, 1), read(UNIT_START))
        return _view(
            context,
            builder,
            signature.args[0],
            args[0],
            start,
            [_intp(context, builder, signature, args, 4), read(FAN_OUT)],
        )

    return types.Array(buffer.dtype, 2, "C")(buffer, capacity, layers, l, n), codegen


@intrinsic
def empty_block(typingctx, buffer):
    """A (0, 0) view of ``buffer``: the mask of a layer without dropout."""

    def codegen(context, builder, signature, args):
        zero = context.get_constant(types.intp, 0)
        return _view(context, builder, signature.args[0], args[0], zero, [zero, zero])

    return types.Array(buffer.dtype, 2, "C")(buffer), codegen


@intrinsic
def flattened(typingctx, array):
    """A 1-D view of a C-contiguous 2-D ``array`` (``ravel`` without its copying branch,
    whose compilation cost ~0.13 s)."""
    if not (isinstance(array, types.Array) and array.ndim == 2 and array.layout == "C"):
        return None

    def codegen(context, builder, signature, args):
        src = make_array(array)(context, builder, args[0])
        rows, cols = cgutils.unpack_tuple(builder, src.shape, 2)
        view_type = signature.return_type
        view = make_array(view_type)(context, builder)
        populate_array(
            view,
            data=src.data,
            shape=[builder.mul(rows, cols)],
            strides=[src.itemsize],
            itemsize=src.itemsize,
            meminfo=src.meminfo,
            parent=src.parent,
        )
        return impl_ret_borrowed(context, builder, view_type, view._getvalue())

    return types.Array(array.dtype, 1, "C")(array), codegen


@intrinsic
def segment(typingctx, flat, layers, l, column, skip):
    """Layer ``l``'s (fan_out,) vector in ``flat`` from element ``layers[l, column]`` plus
    ``skip * fan_out``: a per-unit block (batch-norm scale or shift, PReLU slopes, running
    statistics, per-unit workspace). Empty when the layer has no such block (``NONE``)."""

    def codegen(context, builder, signature, args):
        read = _reader(context, builder, signature, args, 1, 2)
        table_type = signature.args[1]
        table = make_array(table_type)(context, builder, args[1])
        index = [
            _intp(context, builder, signature, args, 2),
            _intp(context, builder, signature, args, 3),
        ]
        start = builder.load(cgutils.get_item_pointer(context, builder, table_type, table, index))
        fan_out = read(FAN_OUT)
        absent = builder.icmp_signed("<", start, context.get_constant(types.intp, 0))
        zero = context.get_constant(types.intp, 0)
        skip_units = builder.mul(_intp(context, builder, signature, args, 4), fan_out)
        first = builder.select(absent, zero, builder.add(start, skip_units))
        return _view(
            context,
            builder,
            signature.args[0],
            args[0],
            first,
            [builder.select(absent, zero, fan_out)],
        )

    return types.Array(flat.dtype, 1, "C")(flat, layers, l, column, skip), codegen


# The runs of a layer in params' layout, written once in layout.py and inlined here.
layer_run = inline(layout.layer_run)


@inline
def run_view(flat, layers, l, r):
    """``flat[start:stop]`` for :func:`layer_run`'s run (empty for an empty buffer).

    Loops go over such views, not over ``range(start, stop)`` with bounds read from the
    table: an index of unknown sign makes every ``flat[k]`` select between ``k`` and
    ``k + size`` (wraparound), and LLVM stops vectorising (a gradient norm ran 20x slower).
    """
    start, stop = layer_run(layers, l, r)
    if stop <= start:
        return flat[:0]
    return flat[start:stop]
