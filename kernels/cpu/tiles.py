"""A register-blocked tile of ``A @ B``, written in LLVM IR: the inner loop of the
micro-kernel ``small_nn`` (products.py).

A tile of ``out`` (a few rows by a few SIMD vectors) is summed over all of A's columns in
vector registers and stored once: per column k, one load of each of B's vectors, one
broadcast of A's entry per row, one multiply-add per accumulator. Written as Numba loops,
the same sums kept ``out``'s rows in memory (LLVM cannot tell that ``out`` does not alias
A or B), loading and storing them every few k, and ran at about half of this speed (16 x
64 x 64 float32 on an AVX2 EPYC: 2.38 -> 1.31 us).

Vectors are as wide as the CPU's SIMD registers (config.WIDE_SIMD: 64 bytes with AVX-512,
else 32), and LLVM lowers ``llvm.fmuladd`` to a fused multiply-add where the CPU has one.
"""

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, overload

from ..config import WIDE_SIMD
from .jit import OPTIONS

VECTOR_BYTES = 64 if WIDE_SIMD else 32


def lanes(A):
    """How many of A's elements one SIMD vector holds (a constant in compiled code)."""
    return VECTOR_BYTES // A.itemsize


@overload(lanes, jit_options=OPTIONS, inline="always")
def _lanes(A):
    count = VECTOR_BYTES * 8 // A.dtype.bitwidth
    return lambda A: count


def _const(value):
    return ir.Constant(ir.IntType(64), value)


def _splat(builder, value, vector):
    """A vector with ``value`` in every lane (an x86 broadcast)."""
    undef = ir.Constant(vector, None)
    first = builder.insert_element(undef, value, ir.Constant(ir.IntType(32), 0))
    zeros = ir.Constant(ir.VectorType(ir.IntType(32), vector.count), [0] * vector.count)
    return builder.shuffle_vector(first, undef, zeros)


def _vector_at(builder, row, offset, vector):
    """A pointer to the vector at ``row[offset]`` (unaligned: element alignment)."""
    return builder.bitcast(builder.gep(row, [_const(offset)]), vector.as_pointer())


# What a tile computes (fma_tile's ``form``), for a tile of rows i.. and columns j..:
NN = 0  # out[i.., j..] <- A[i.., :] @ B[:, j..]
TN = 1  # out[i.., j..] <- A[:, i..].T @ B[:, j..] (A read down its columns: no copy)
NN_STORED_TRANSPOSED = 2  # out[j.., i..] <- (A[i.., :] @ B[:, j..]).T


@intrinsic(prefer_literal=True)
def fma_tile(typingctx, form, rows, vectors, chains, A, B, out, i, j):
    """A tile of ``rows`` rows by w = vectors x lanes(A) columns of one of the products
    above (``form``), for C-contiguous 2-d arrays of one float dtype; the caller keeps the
    tile inside them.

    ``form``, ``rows``, ``vectors`` and ``chains`` are compile-time integers. ``chains`` > 1
    splits the sum over k into that many interleaved partial sums: a fused multiply-add
    waits for the one before it on the same accumulator (~4 cycles), so a one-row tile of
    few vectors needs more accumulators than its vectors to keep the units busy.
    """
    literal = (form, rows, vectors, chains)
    if not all(isinstance(x, types.IntegerLiteral) for x in literal):
        return None
    a_form, n_rows, n_vectors, n_chains = (x.literal_value for x in literal)

    def codegen(context, builder, signature, args):
        a, b, c = (
            cgutils.create_struct_proxy(t)(context, builder, v)
            for t, v in zip(signature.args[4:7], args[4:7])
        )
        first_row, first_col = args[7], args[8]
        dtype = signature.args[4].dtype
        scalar, bits = context.get_value_type(dtype), dtype.bitwidth
        vector = ir.VectorType(scalar, VECTOR_BYTES * 8 // bits)
        fma = cgutils.get_or_insert_function(
            builder.module,
            ir.FunctionType(vector, [vector] * 3),
            f"llvm.fmuladd.v{vector.count}f{bits}",
        )
        a_height, a_width = cgutils.unpack_tuple(builder, a.shape, 2)
        inner = a_height if a_form == TN else a_width
        b_width = cgutils.unpack_tuple(builder, b.shape, 2)[1]
        c_width = cgutils.unpack_tuple(builder, c.shape, 2)[1]

        def at(array, width, row, col):  # &array[row, col]
            return builder.gep(array.data, [builder.add(builder.mul(row, width), col)])

        def a_at(r, k):  # &A[first_row + r, k], or &A[k, first_row + r] for TN
            row = builder.add(first_row, _const(r))
            return at(a, a_width, k, row) if a_form == TN else at(a, a_width, row, k)

        zero = ir.Constant(vector, [0.0] * vector.count)
        acc = [
            [
                [cgutils.alloca_once_value(builder, zero) for _ in range(n_vectors)]
                for _ in range(n_rows)
            ]
            for _ in range(n_chains)
        ]

        def add_column(k, chain):  # acc[chain] += A[rows, k] (x) B[k, tile's columns]
            b_row = at(b, b_width, k, first_col)
            b_vectors = [
                builder.load(_vector_at(builder, b_row, v * vector.count, vector), align=bits // 8)
                for v in range(n_vectors)
            ]
            for r in range(n_rows):
                a_k = _splat(builder, builder.load(a_at(r, k)), vector)
                for v in range(n_vectors):
                    slot = acc[chain][r][v]
                    builder.store(builder.call(fma, [a_k, b_vectors[v], builder.load(slot)]), slot)

        whole = builder.mul(builder.udiv(inner, _const(n_chains)), _const(n_chains))
        with cgutils.for_range_slice(builder, _const(0), whole, _const(n_chains)) as (k, _):
            for chain in range(n_chains):
                add_column(builder.add(k, _const(chain)), chain)
        with cgutils.for_range_slice(builder, whole, inner, _const(1)) as (k, _):
            add_column(k, 0)

        for r in range(n_rows):
            row = builder.add(first_row, _const(r))
            for v in range(n_vectors):
                total = builder.load(acc[0][r][v])
                for chain in range(1, n_chains):
                    total = builder.fadd(total, builder.load(acc[chain][r][v]))
                col = builder.add(first_col, _const(v * vector.count))
                if a_form == NN_STORED_TRANSPOSED:  # lane by lane down a column of out
                    for lane in range(vector.count):
                        value = builder.extract_element(total, ir.Constant(ir.IntType(32), lane))
                        builder.store(value, at(c, c_width, builder.add(col, _const(lane)), row))
                else:
                    target = builder.bitcast(at(c, c_width, row, col), vector.as_pointer())
                    builder.store(total, target, align=bits // 8)
        return context.get_dummy_value()

    return types.void(form, rows, vectors, chains, A, B, out, i, j), codegen
