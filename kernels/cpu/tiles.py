"""Register-blocked tiles of a matrix product, written in LLVM IR: the micro-kernels of
the layers' three products (products.py).

A tile of ``out`` (a few rows by a few SIMD vectors) is summed over all of A's columns in
vector registers and stored once: per column k, one load of each of B's vectors, one
broadcast of A's entry per row, one multiply-add per accumulator. Written as Numba loops,
the same sums kept ``out``'s rows in memory (LLVM cannot tell that ``out`` does not alias
A or B), loading and storing them every few k, and ran at about half of this speed (16 x
64 x 64 float32 on an AVX2 EPYC: 2.38 -> 1.31 us).

Vectors are as wide as the CPU's SIMD registers (config.WIDE_SIMD: 64 bytes with AVX-512,
else 32), and LLVM lowers ``llvm.fmuladd`` to a fused multiply-add where the CPU has one;
with FASTMLP_FASTMATH=0 (no contraction) a multiply and an add instead.
"""

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from ..config import FASTMATH, WIDE_SIMD

VECTOR_BYTES = 64 if WIDE_SIMD else 32


def _const(value):
    return ir.Constant(ir.IntType(64), value)


def _const32(value):
    return ir.Constant(ir.IntType(32), value)


def _splat(builder, value, vector):
    """A vector with ``value`` in every lane (an x86 broadcast)."""
    undef = ir.Constant(vector, None)
    first = builder.insert_element(undef, value, _const32(0))
    zeros = ir.Constant(ir.VectorType(ir.IntType(32), vector.count), [0] * vector.count)
    return builder.shuffle_vector(first, undef, zeros)


def _vector_at(builder, row, offset, vector):
    """A pointer to the vector at ``row[offset]`` (unaligned: element alignment)."""
    return builder.bitcast(builder.gep(row, [_const(offset)]), vector.as_pointer())


# What the tiles compute (fma_tiles's ``form``), for a tile of rows i.. and columns j..:
NN = 0  # out[i.., j..] <- A[i.., :] @ B[:, j..]
TN = 1  # out[i.., j..] <- A[:, i..].T @ B[:, j..] (A read down its columns: no copy)
NN_STORED_TRANSPOSED = 2  # out[j.., i..] <- (A[i.., :] @ B[:, j..]).T

# The tiles, as (rows, vectors, chains): four rows of out by two SIMD vectors, then by one
# (its four accumulators split into two partial sums each: ``chains``); a row left over by
# four vectors, then by one, with eight and four partial sums. A multiply-add waits for
# the one before it on the same accumulator (~4 cycles), so fewer than eight independent
# sums leave the units idle.
FOUR_ROWS = ((4, 2, 1), (4, 1, 2))
ONE_ROW = ((1, 4, 2), (1, 1, 4))


@intrinsic(prefer_literal=True)
def fma_tiles(typingctx, form, A, B, out):
    """The product ``form`` (a compile-time integer, above) for C-contiguous 2-d arrays of
    one float dtype. The loops over the tiles are emitted here too (as Numba functions
    inlined at each use they cost ~2 s of compilation per C function), and the columns
    that fill no whole vector take masked loads, and stores lane by lane."""
    addressable = all(
        isinstance(x, types.Array) and x.ndim == 2 and x.layout == "C" and x.dtype == A.dtype
        for x in (A, B, out)
    )
    if not (isinstance(form, types.IntegerLiteral) and addressable):
        return None  # a typing error, not a tile on memory laid out otherwise
    if not isinstance(A.dtype, types.Float):
        return None

    def codegen(context, builder, signature, args):
        arrays = [
            cgutils.create_struct_proxy(t)(context, builder, v)
            for t, v in zip(signature.args[1:4], args[1:4])
        ]
        emit = _Tiles(context, builder, form.literal_value, signature.args[1].dtype, arrays)
        emit.emit()
        return context.get_dummy_value()

    return types.void(form, A, B, out), codegen


class _Tiles:
    """Emits the tiles of one product into ``builder``."""

    def __init__(self, context, builder, form, dtype, arrays):
        self.builder, self.form = builder, form
        self.a, self.b, self.c = arrays
        self.bits = dtype.bitwidth
        self.vector = ir.VectorType(context.get_value_type(dtype), VECTOR_BYTES * 8 // self.bits)
        self.fma = cgutils.get_or_insert_function(
            builder.module,
            ir.FunctionType(self.vector, [self.vector] * 3),
            f"llvm.fmuladd.v{self.vector.count}f{self.bits}",
        )
        a_height, self.a_width = cgutils.unpack_tuple(builder, self.a.shape, 2)
        self.inner = a_height if form == TN else self.a_width
        self.rows = self.a_width if form == TN else a_height
        self.b_width = cgutils.unpack_tuple(builder, self.b.shape, 2)[1]
        self.c_width = cgutils.unpack_tuple(builder, self.c.shape, 2)[1]

    def emit(self):
        """Row blocks outermost (by_rows); for TN with B wider than A, column strips
        (by_columns)."""
        b = self.builder
        if self.form == TN:
            wider = b.icmp_unsigned(">", self.b_width, self.a_width)
            with b.if_else(wider) as (by_columns, by_rows):
                with by_columns:
                    self.by_columns()
                with by_rows:
                    self.by_rows()
        else:
            self.by_rows()

    def by_rows(self):
        """Four rows at a time, then the rows left one at a time, each across all columns."""
        b = self.builder
        four = self.round_down(self.rows, 4)
        with cgutils.for_range_slice(b, _const(0), four, _const(4)) as (i, _):
            self.row_block(FOUR_ROWS, i)
        with cgutils.for_range_slice(b, four, self.rows, _const(1)) as (i, _):
            self.row_block(ONE_ROW, i)

    def row_block(self, tiles, i):
        """All columns: wide tiles, then narrow ones for the whole vectors left, then a
        masked narrow one for the columns left."""
        (rows, wide, chains), (_, narrow, narrow_chains) = tiles
        b, lanes = self.builder, self.vector.count
        wide_stop, whole, rest = self.column_bounds(wide)
        with cgutils.for_range_slice(b, _const(0), wide_stop, _const(wide * lanes)) as (j, _):
            self.tile(rows, wide, chains, i, j)
        with cgutils.for_range_slice(b, wide_stop, whole, _const(narrow * lanes)) as (j, _):
            self.tile(rows, narrow, narrow_chains, i, j)
        with b.if_then(b.icmp_unsigned("!=", rest, _const(0))):
            self.tile(rows, 1, narrow_chains, i, whole, rest)

    def by_columns(self):
        """Strips of two vectors of columns, then one, then a masked one, each down all
        rows. TN's B (D, batch rows by fan_out) is read whole by every row block: a strip of
        it stays in L1 across the row blocks, where all of it would not (200x64x100 on a Zen 5:
        17.6 -> 13.1-13.5 us; at 200x64x64 and 200x256x128 the orders tie)."""
        b, lanes = self.builder, self.vector.count
        wide_stop, whole, rest = self.column_bounds(2)
        with cgutils.for_range_slice(b, _const(0), wide_stop, _const(2 * lanes)) as (j, _):
            self.column_strip(2, j)
        with cgutils.for_range_slice(b, wide_stop, whole, _const(lanes)) as (j, _):
            self.column_strip(1, j)
        with b.if_then(b.icmp_unsigned("!=", rest, _const(0))):
            self.column_strip(1, whole, rest)

    def column_strip(self, n_vectors, j, rest=None):
        """All rows of the columns from j, n_vectors wide: four rows at a time (eight
        accumulators), then one (eight, or four for one vector)."""
        b = self.builder
        four = self.round_down(self.rows, 4)
        with cgutils.for_range_slice(b, _const(0), four, _const(4)) as (i, _):
            self.tile(4, n_vectors, 2 // n_vectors, i, j, rest)
        with cgutils.for_range_slice(b, four, self.rows, _const(1)) as (i, _):
            self.tile(1, n_vectors, 4, i, j, rest)

    def round_down(self, value, step):  # value - value % step
        return self.builder.sub(value, self.builder.urem(value, _const(step)))

    def column_bounds(self, wide):
        """Where out's columns in tiles of ``wide`` vectors end, where its whole vectors
        end, and how many columns are left after them."""
        whole = self.round_down(self.b_width, self.vector.count)
        rest = self.builder.sub(self.b_width, whole)
        return self.round_down(whole, wide * self.vector.count), whole, rest

    def at(self, array, width, row, col):  # &array[row, col]
        b = self.builder
        return b.gep(array.data, [b.add(b.mul(row, width), col)])

    def a_at(self, row, k):  # &A[row, k], or &A[k, row] for TN
        if self.form == TN:
            return self.at(self.a, self.a_width, k, row)
        return self.at(self.a, self.a_width, row, k)

    def tile(self, n_rows, n_vectors, n_chains, first_row, first_col, rest=None):
        """Rows first_row.. by n_vectors vectors from first_col, summed over all of k in
        registers (allocas that LLVM promotes), then stored; with ``rest``, one vector of
        which only the first ``rest`` lanes are loaded and stored."""
        b, vector, count = self.builder, self.vector, self.vector.count
        mask = None if rest is None else self.first_lanes(rest)
        rows = [b.add(first_row, _const(r)) for r in range(n_rows)]
        zero = ir.Constant(vector, [0.0] * count)
        acc = [
            [[cgutils.alloca_once_value(b, zero) for _ in range(n_vectors)] for _ in rows]
            for _ in range(n_chains)
        ]

        def add_column(k, chain):  # acc[chain] += A[rows, k] (x) B[k, tile's columns]
            b_row = self.at(self.b, self.b_width, k, first_col)
            b_vectors = [
                self.load(_vector_at(b, b_row, v * count, vector), mask) for v in range(n_vectors)
            ]
            for r, row in enumerate(rows):
                a_k = _splat(b, b.load(self.a_at(row, k)), vector)
                for v in range(n_vectors):
                    slot = acc[chain][r][v]
                    b.store(self.multiply_add(a_k, b_vectors[v], b.load(slot)), slot)

        whole = b.mul(b.udiv(self.inner, _const(n_chains)), _const(n_chains))
        with cgutils.for_range_slice(b, _const(0), whole, _const(n_chains)) as (k, _):
            for chain in range(n_chains):
                add_column(b.add(k, _const(chain)), chain)
        with cgutils.for_range_slice(b, whole, self.inner, _const(1)) as (k, _):
            add_column(k, 0)

        totals = [[self.summed(acc, r, v) for v in range(n_vectors)] for r in range(n_rows)]
        for v in range(n_vectors):
            col = b.add(first_col, _const(v * count))
            if self.form == NN_STORED_TRANSPOSED and rest is None and n_rows > 1:
                self.store_transposed([t[v] for t in totals], first_row, col)
                continue
            for r, row in enumerate(rows):
                if self.form == NN_STORED_TRANSPOSED or rest is not None:
                    self.store_lanes(totals[r][v], row, col, rest)
                else:
                    target = b.bitcast(self.at(self.c, self.c_width, row, col), vector.as_pointer())
                    b.store(totals[r][v], target, align=self.bits // 8)

    def summed(self, acc, r, v):
        """The tile's accumulator (r, v): the sum of its chains."""
        b = self.builder
        total = b.load(acc[0][r][v])
        for chain in range(1, len(acc)):
            total = b.fadd(total, b.load(acc[chain][r][v]))
        return total

    def store_transposed(self, totals, first_row, col):
        """NN_STORED_TRANSPOSED's whole vectors of len(totals) rows: out[col + lane,
        first_row..] <- the lane of each, one short vector a lane (len(totals) stores
        instead of one a value: 16x64x64 D @ W.T on a Zen 5 1.10 -> 0.91 us)."""
        b = self.builder
        short = ir.VectorType(self.vector.element, len(totals))
        for lane in range(self.vector.count):
            value = ir.Constant(short, None)
            for r, total in enumerate(totals):
                element = b.extract_element(total, _const32(lane))
                value = b.insert_element(value, element, _const32(r))
            target = self.at(self.c, self.c_width, b.add(col, _const(lane)), first_row)
            b.store(value, b.bitcast(target, short.as_pointer()), align=self.bits // 8)

    def multiply_add(self, x, y, z):
        """x * y + z, fused where the CPU can and FASTMLP_FASTMATH allows contraction."""
        if FASTMATH:
            return self.builder.call(self.fma, [x, y, z])
        return self.builder.fadd(self.builder.fmul(x, y), z)

    def store_lanes(self, total, row, col, rest):
        """Lane by lane into out[row, col + lane], or out[col + lane, row] for
        NN_STORED_TRANSPOSED; the first ``rest`` lanes only, if given (a masked vector
        store, vmaskmovps, is microcoded on AMD's cores: 16x64x2 A.T @ D took 0.71-1.05 us
        with it, 0.53-0.57 without)."""
        b = self.builder
        for lane in range(self.vector.count):
            value = b.extract_element(total, _const32(lane))
            col_lane = b.add(col, _const(lane))
            if self.form == NN_STORED_TRANSPOSED:
                target = self.at(self.c, self.c_width, col_lane, row)
            else:
                target = self.at(self.c, self.c_width, row, col_lane)
            if rest is None:
                b.store(value, target)
            else:
                with b.if_then(b.icmp_unsigned("<", _const(lane), rest)):
                    b.store(value, target)

    def first_lanes(self, rest):
        """A mask of the vector's first ``rest`` lanes."""
        b, count = self.builder, self.vector.count
        index = ir.VectorType(ir.IntType(64), count)
        return b.icmp_unsigned("<", ir.Constant(index, list(range(count))), _splat(b, rest, index))

    def load(self, pointer, mask):
        """The vector at ``pointer``; with a mask, its masked lanes only (the others 0)."""
        align = self.bits // 8
        if mask is None:
            return self.builder.load(pointer, align=align)
        zero = ir.Constant(self.vector, [0.0] * self.vector.count)
        return self.builder.call(self.masked_load(), [pointer, _const32(align), mask, zero])

    def masked_load(self):
        """LLVM's masked load of this vector type (AVX's vmaskmovps)."""
        vector, pointer = self.vector, self.vector.as_pointer()
        mask = ir.VectorType(ir.IntType(1), vector.count)
        signature = ir.FunctionType(vector, [pointer, ir.IntType(32), mask, vector])
        name = f"llvm.masked.load.v{vector.count}f{self.bits}.p0"
        return cgutils.get_or_insert_function(self.builder.module, signature, name)
