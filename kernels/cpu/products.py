"""The layers' three matrix products, by BLAS or by a micro-kernel, chosen per shape.

A layer multiplies ``A @ W`` (forward), ``A.T @ D`` (weight gradient) and ``D @ W.T``
(delta). Large products go to SciPy's BLAS (blas.py), called directly. A few-row product
can cost BLAS far more than its arithmetic, and then a micro-kernel wins: register-blocked
tiles written in LLVM IR (tiles.py), which hold a block of the output in vector registers
over the whole sum. Whether it wins depends on the BLAS build's kernels, so the choice
follows one of two profiles (``FASTMLP_MICRO_KERNELS``, config.py), each read from
``python -m bench.micro_products`` (float32, one BLAS thread):

``many``: OpenBLAS with its AVX2 (Haswell) kernels, here on an AVX-512 Xeon it did not
know, where its sgemm spent ~1.6 us on a 1 x 64 x 64 product:

=========  =================================  =========================================
product    micro-kernel                       measured, BLAS -> micro (us)
=========  =================================  =========================================
A @ W      <= 2 rows; >= 32 wide and <= 32    1x64x64 1.6 -> 0.1, 16x64x64 2.6 -> 1.1,
           rows (AVX-512: or <= 2 M           200x64x100 31 -> 21 (2 threads: 20 -> 25);
           multiply-adds)                     4x64x10 0.45 -> 0.99 (too narrow)
A.T @ D    1 row; >= 32 wide as for A @ W     1x64x64 0.5 -> 0.2, 16x64x64 2.3 -> 1.7
D @ W.T    <= 2 rows; <= 8 rows >= 32 wide    1x64x64 1.6 -> 0.2; 16x64x64 2.6 -> 3.7
           (AVX2: as A @ W)                   (dot products: a horizontal sum each)
=========  =================================  =========================================

(Measured there with the micro-kernels' earlier form, loops that LLVM vectorised.) With the
tiles on an AVX-512 CPU (a Zen 5, OpenBLAS's Haswell kernels, 64-byte vectors) the tiles
win all three products up to 32 rows at any width (16x64x64 A @ W 2.31 -> 0.57, A.T @ D
1.69 -> 0.56, D @ W.T 2.30 -> 0.98; 16x64x2 0.26 -> 0.19, 0.36 -> 0.20, 0.19 -> 0.10), and
beyond that within one core's work from 8 wide (200x64x100 A @ W 14.8 in 2-thread BLAS ->
13.1, 200x128x10 A.T @ D 10.8 -> 5.4, D @ W.T 5.5 -> 2.4): the rule above.

``few``: OpenBLAS with AVX-512 kernels (here SkylakeX's on a Zen 4), or another BLAS.
Its few-row products run near the core's peak, and the micro-kernels, compiled for a Zen 4,
at half that: 16x64x64 A @ W 1.2 us against 2.3, D @ W.T 2.0 against 7.8, 8x64x64
D @ W.T 0.9 against 3.8. They keep one-row ``A.T @ D`` (1x64x64 0.43 -> 0.33,
1x100x10 0.56 -> 0.20) and one-row ``D @ W.T`` narrower than 16 (1x64x10 0.30 -> 0.14),
where BLAS's call costs more than the sums; and few-row products of big layers, where
this OpenBLAS turns slow (1x1024x1024 A @ W 374 -> 53 us, D @ W.T 835 -> 83 us; 4 rows
D @ W.T 856 -> 335 us): A @ W over 1-2 rows, D @ W.T over up to 4. 20-64-64-2 steps
(profile_step medians): batch 8 11.7 -> 6.7 us, batch 16 13.3 -> 9.9 us for the sum of
the phases; one-row ``Network.forward`` of 256-1024-1024-10 252 -> ~100 us.

On an AVX2 CPU (an AMD EPYC, Zen 3, OpenBLAS's Haswell kernels) "many" stops at 32 rows
for all three products (``WIDE_SIMD``, config.py). With the tiles (BLAS -> micro, us):
16x64x64 A @ W 5.2 -> 1.6, A.T @ D 4.1 -> 2.1, D @ W.T 4.8 -> 2.2; 32x64x64 5.9 -> 2.8, 5.7
-> 2.8, 6.3 -> 4.0; 16x784x256 290 -> 171, 135 -> 90, 238 -> 102. Beyond 32 rows BLAS's
second thread wins (200x64x100 A @ W: micro 37-40, one BLAS thread ~35). Below that the
tiles take every width: 16x64x2 A @ W 0.63 -> 0.41, A.T @ D 0.61 -> 0.49, D @ W.T 0.56 ->
0.47 (through a transposed copy of W, below); and OpenBLAS serialises small calls from
two threads (16x64x2 A @ W in two threads at once: 1.02-1.42x the rate of one, the tiles
1.61-1.83x).

The micro-kernels run on one core. Beyond ~2 M multiply-adds BLAS's second thread starts
to win (A @ W at 128x784x256: 299 us in 2-thread BLAS against 306), though against one
BLAS thread the micro-kernel stayed ahead there too (589 -> 444) with AVX2 BLAS.

The micro-kernels are C functions that kernels call through a table of their addresses
(``call_c``), compiled once per process, only for float32, and only once a kernel call
may pick one (``prepare_products``). As ordinary kernels, every caller linked in their
code and LLVM optimised it again there: a cold first fit (20-64-64-3 float32, fresh cache)
took 11.5-12.6 s, against 8.7-9.9 s as C functions (alternating processes, same hour).
Inlined at Numba's IR level they had tripled it. Compiled only on need, they cost a cold
first fit at batch 200 nothing (6.07-6.22 -> 5.41-5.52 s under "few").

float64 always calls BLAS: its sums in BLAS's order are what keeps exact parity with
scikit-learn, which multiplies through the same OpenBLAS kernels.
"""

import ctypes
import math
import threading

import numpy as np
from llvmlite import binding, ir
from numba import carray, types
from numba.core import cgutils
from numba.extending import intrinsic, overload
from numba.np.arrayobj import make_array, populate_array

from ..config import MICRO_KERNELS, WIDE_SIMD
from . import ahead
from .blas import gemm
from .jit import INTERNAL, c_function, inline, uncompiled_c_function
from .tiles import NN, NN_STORED_TRANSPOSED, TN, VECTOR_BYTES, fma_tiles

SMALL_ROWS = 2  # up to this many rows: a micro-kernel at any width (A.T @ D: one row)
NN_ROWS = 32  # up to this many rows, the tiles take all three products at any width;
ONE_CORE_WORK = 2_000_000  # beyond, on an AVX-512 CPU (WIDE_SIMD), any of the three
ONE_CORE_WIDTH = 8  # within this many multiply-adds, at least this wide (the micro-kernels
# run on one core; below that work BLAS's second thread does not pay, and narrower outputs
# fill too little of a 16-lane vector).
# D @ W.T beyond SMALL_ROWS rows: tiles of (W @ D.T).T on a transposed copy of D, stored
# transposed (16x64x64: 3.4 us, against 4.3 on a copy of W and 5.8 in BLAS, on AVX2); with D
NT_NARROW = VECTOR_BYTES // 4  # narrower than a float32 vector, or with W's rows no more
W_COPY_RATIO = 2  # than this many times D's (fan_in <= 2 * rows), tiles of D @ (a
# transposed copy of W): W's copy is then the smaller, and these tiles store plainly
# (16x64x2: 0.47 against 0.72 and BLAS's 0.56 on AVX2; on AVX-512 32x64x64 1.80 against
# 2.08, 200x128x10 2.35 against BLAS's 5.50, 32x128x10 0.60 against 1.29).
# BLAS with fast few-row products ("few"): one-row A.T @ D, and one-row D @ W.T narrower than
NARROW = 16  # this (one dot product per output: no SIMD vector of D to fill); and where a
BIG = 1 << 20  # row costs this many multiply-adds, A @ W over 1-2 rows and D @ W.T over
BIG_NT_ROWS = 4  # up to this many, where BLAS's few-row products turn slow.
MANY = MICRO_KERNELS == "many"


@inline
def matmul(A, B, out, trans_a, trans_b):
    """``out <- op(A) @ op(B)`` by BLAS, ``op`` a transpose where asked.

    For row-major arrays this is BLAS's column-major ``out^T = op(B)^T @ op(A)^T``: each
    row-major matrix already is its transpose in column-major terms, so nothing is copied.
    """
    rows, cols = out.shape
    inner = A.shape[0] if trans_a else A.shape[1]
    gemm(trans_b, trans_a, cols, rows, inner, B, B.shape[1], A, A.shape[1], out, cols)


@inline
def micro_nn_wins(rows, inner, width, many=MANY, wide_simd=WIDE_SIMD):
    """Whether a micro-kernel beats BLAS on ``A @ W``: ``rows`` rows of out, each ``width``
    wide, sums of ``inner`` products (the table above). ``many``: the profile for BLAS with
    slow few-row products (config.MICRO_KERNELS); ``wide_simd``: config.WIDE_SIMD."""
    if not many:
        return rows <= SMALL_ROWS and inner * width >= BIG
    return rows <= SMALL_ROWS or blocked_wins(rows, inner, width, wide_simd)


@inline
def blocked_wins(rows, inner, width, wide_simd):
    """Whether the register-blocked tiles beat BLAS on ``rows`` rows of out, each
    ``width`` wide, sums of ``inner`` products, in any product they serve (at every
    width up to NN_ROWS rows: 16x64x2 A @ W 0.63 -> 0.41 us on AVX2, 0.26 -> 0.19 on
    AVX-512)."""
    one_core = wide_simd and width >= ONE_CORE_WIDTH and rows * inner * width <= ONE_CORE_WORK
    return rows <= NN_ROWS or one_core


@inline
def micro_tn_wins(batch, fan_in, width, many=MANY, wide_simd=WIDE_SIMD):
    """Whether the micro-kernel (``_c_tn``) beats BLAS on ``A.T @ D``: ``fan_in`` rows of
    out, each ``width`` wide, sums over the ``batch`` rows of A and D."""
    return batch == 1 or (many and blocked_wins(batch, fan_in, width, wide_simd))


@inline
def micro_nt_wins(rows, fan_in, width, many=MANY, wide_simd=WIDE_SIMD):
    """Whether the micro-kernel (``_c_nt``) beats BLAS on ``D @ W.T``: ``rows`` rows of D,
    each ``width`` wide (the length of every dot product), ``fan_in`` of them a row. Under
    "many": the tiles' rule for ``rows`` rows of out, ``fan_in`` wide, sums of ``width``
    products (where W is the smaller copy, D times a transposed copy of W: _c_nt)."""
    if not many:
        return (rows == 1 and width < NARROW) or (rows <= BIG_NT_ROWS and fan_in * width >= BIG)
    return rows <= SMALL_ROWS or blocked_wins(rows, width, fan_in, wide_simd)


# The register-blocked tiles (tiles.fma_tiles) are C functions of their own, one a form,
# which the other C functions call through the table: each form's loops compile once
# (an instance took ~0.3 s), not once in every C function that uses it. The table is
# filled before any caller runs (ensure_c_functions); BLAS stands in for an empty entry.


@inline
def tiles_nn(A, B, out):
    """``out <- A @ B`` in tiles."""
    if not call_c("tiles_nn", A, B, out):
        matmul(A, B, out, False, False)


@inline
def tiles_tn(A, B, out):
    """``out <- A.T @ B`` in tiles (A read down its columns)."""
    if not call_c("tiles_tn", A, B, out):
        matmul(A, B, out, True, False)


@inline
def tiles_stored_transposed(A, B, out):
    """``out <- (A @ B).T`` in tiles."""
    if not call_c("tiles_nst", A, B, out):
        matmul(B, A, out, True, True)


@inline
def small_tn(A, D, out):
    """``out <- A.T @ D`` as sums of the rows of D scaled by a column of A, the first
    stored rather than added to zeros (over more than two rows, ``_c_tn`` takes the tiles
    of tiles.TN instead)."""
    n, inner = A.shape
    m = D.shape[1]
    for k in range(inner):
        a = A[0, k]
        for j in range(m):
            out[k, j] = a * D[0, j]
        for i in range(1, n):
            a = A[i, k]
            for j in range(m):
                out[k, j] += a * D[i, j]


@inline
def small_nt(D, W, out):
    """``out <- D @ W.T``: dot products of contiguous rows, four rows of W per pass over
    a row of D (four vector accumulators, one load of D for four multiply-adds)."""
    n, m = D.shape
    k_rows = W.shape[0]
    k4 = k_rows - k_rows % 4
    for i in range(n):
        for k in range(0, k4, 4):
            s0 = s1 = s2 = s3 = 0.0
            for j in range(m):
                d = D[i, j]
                s0 += d * W[k, j]
                s1 += d * W[k + 1, j]
                s2 += d * W[k + 2, j]
                s3 += d * W[k + 3, j]
            out[i, k], out[i, k + 1], out[i, k + 2], out[i, k + 3] = s0, s1, s2, s3
        for k in range(k4, k_rows):
            total = 0.0
            for j in range(m):
                total += D[i, j] * W[k, j]
            out[i, k] = total


def product(A, W, out):
    """``out <- A @ W``. Compiled code gets the overload below: BLAS or a micro-kernel by
    shape for float32, BLAS for float64."""
    np.matmul(A, W, out=out)


def product_tn(A, D, out):
    """``out <- A.T @ D``, chosen as :func:`product` is."""
    np.matmul(A.T, D, out=out)


def product_nt(D, W, out):
    """``out <- D @ W.T``, chosen as :func:`product` is."""
    np.matmul(D, W.T, out=out)


# The kernels call the tiles' own C function where the C function of the product would
# only pass the call on to it (a second indirect call a product cost a 20-64-64-2 step at
# batch 16 ~3 %): the same choice as _c_nn's and _c_tn's.
@inline
def micro_nn(A, W, out):
    if W.shape[1] <= 2:
        return call_c("small_nn", A, W, out)
    return call_c("tiles_nn", A, W, out)


@inline
def micro_tn(A, D, out):
    if D.shape[1] < NARROW_OUT or A.shape[0] == 1:
        return call_c("small_tn", A, D, out)
    return call_c("tiles_tn", A, D, out)


@overload(product, jit_options=INTERNAL)
def _product(A, W, out):
    if A.dtype != types.float32:
        return lambda A, W, out: matmul(A, W, out, False, False)

    def chosen(A, W, out):
        if not (micro_nn_wins(A.shape[0], A.shape[1], W.shape[1]) and micro_nn(A, W, out)):
            matmul(A, W, out, False, False)

    return chosen


@overload(product_tn, jit_options=INTERNAL)
def _product_tn(A, D, out):
    if A.dtype != types.float32:
        return lambda A, D, out: matmul(A, D, out, True, False)

    def chosen(A, D, out):
        if not (micro_tn_wins(A.shape[0], A.shape[1], D.shape[1]) and micro_tn(A, D, out)):
            matmul(A, D, out, True, False)

    return chosen


@overload(product_nt, jit_options=INTERNAL)
def _product_nt(D, W, out):
    if D.dtype != types.float32:
        return lambda D, W, out: matmul(D, W, out, False, True)

    def chosen(D, W, out):
        if not (
            micro_nt_wins(D.shape[0], W.shape[0], D.shape[1]) and call_c("small_nt", D, W, out)
        ):
            matmul(D, W, out, False, True)

    return chosen


# The float32 micro-kernels run as C functions (jit.c_function), compiled (or loaded from
# the disk cache) only when a kernel call may pick one: before such a call the backend asks
# for them (prepare_products), and a cold first fit that never needs them is ~0.7 s shorter.
# Kernels find them through a table of function pointers under a fixed name (C_TABLE), so
# that their machine code links without them; a product whose micro-kernel is not loaded
# (an entry still null) runs on BLAS.
C_SIGNATURE = types.void(*[types.CPointer(types.float32)] * 3, *[types.int64] * 4)


# Narrow outs (an output layer of a few units: binary classification, a regression target
# or two) fill few lanes of the tiles' vectors; their products run along A's rows instead.
# A @ W with one or two columns of W: dot products (narrow_nn). A.T @ D with D narrower
# than NARROW_OUT: tiles of D.T @ A (a short copy of D), stored transposed. On a Zen 5
# (us, tiles -> these): 16x64x1 A @ W 0.20 -> 0.05, A.T @ D 0.20 -> 0.05; 16x64x2 0.20 ->
# 0.14, 0.21 -> 0.07; 16x64x3 A.T @ D 0.21 -> 0.10; 32x100x2 0.60 -> 0.46, 0.63 -> 0.18.
NARROW_OUT = 4


def _c_nn(a, b, out, a_rows, a_cols, b_rows, b_cols):
    A, B, C = (
        carray(a, (a_rows, a_cols)),
        carray(b, (b_rows, b_cols)),
        carray(out, (a_rows, b_cols)),
    )
    if b_cols <= 2:
        narrow_nn(A, B, C)
    else:
        tiles_nn(A, B, C)


@inline
def narrow_nn(A, W, out):
    """``out <- A @ W`` for W of one or two columns: a dot product a row and column, in
    one pass along the row. Each width has its loop: with W's row stride a constant, LLVM
    vectorises the pass over two interleaved columns (16x64x2: 0.14 us; 0.51 with the
    stride unknown, 0.20 in the tiles)."""
    n, inner = A.shape
    width = W.shape[1]
    for i in range(n):
        s0 = s1 = 0.0
        if width == 1:
            for k in range(inner):
                s0 += A[i, k] * W[k, 0]
        elif width == 2:
            for k in range(inner):
                a = A[i, k]
                s0 += a * W[k, 0]
                s1 += a * W[k, 1]
            out[i, 1] = s1
        out[i, 0] = s0


def _c_tn(a, b, out, a_rows, a_cols, b_rows, b_cols):
    A, B, C = (
        carray(a, (a_rows, a_cols)),
        carray(b, (b_rows, b_cols)),
        carray(out, (a_cols, b_cols)),
    )
    if b_cols < NARROW_OUT:
        tiles_stored_transposed(transposed_copy(B), A, C)
    elif a_rows > 1:  # tiles reading A down its columns (2x64x64: 0.46 us, small_tn 0.71)
        tiles_tn(A, B, C)
    else:
        small_tn(A, B, C)


# Copies of up to this many elements live on the calling C function's stack (16 KB of
# float32): an np.empty and its release cost 20-55 ns, and a 20-64-64-2 step makes three.
STACK_COPY = 4096


@inline
def transposed_copy(A):
    """A.T as a new C-contiguous array, four rows of A a pass: each pass stores four
    neighbours of every row of A.T (row by row, each store a row apart: 16x64 0.26 ->
    0.15 us, 64x64 1.02 -> 0.59). Small copies are on the stack: they must not outlive
    the C function that makes them (none is returned)."""
    n, m = A.shape
    if n * m <= STACK_COPY:
        transposed = stack_matrix(m, n, A)
    else:
        transposed = np.empty((m, n), A.dtype)
    n4 = n - n % 4
    for i in range(0, n4, 4):
        for k in range(m):
            transposed[k, i] = A[i, k]
            transposed[k, i + 1] = A[i + 1, k]
            transposed[k, i + 2] = A[i + 2, k]
            transposed[k, i + 3] = A[i + 3, k]
    for i in range(n4, n):
        for k in range(m):
            transposed[k, i] = A[i, k]
    return transposed


def _c_nt(a, b, out, a_rows, a_cols, b_rows, b_cols):
    D, W, C = (
        carray(a, (a_rows, a_cols)),
        carray(b, (b_rows, b_cols)),
        carray(out, (a_rows, b_rows)),
    )
    if a_rows <= SMALL_ROWS:  # dot products (each ends in a horizontal sum)
        small_nt(D, W, C)
    elif a_cols < NT_NARROW or b_rows <= W_COPY_RATIO * a_rows:
        tiles_nn(D, transposed_copy(W), C)
    else:  # D @ W.T = (W @ D.T).T
        tiles_stored_transposed(W, transposed_copy(D), C)


def _c_tiles_nn(a, b, out, a_rows, a_cols, b_rows, b_cols):
    A, B = carray(a, (a_rows, a_cols)), carray(b, (b_rows, b_cols))
    fma_tiles(NN, A, B, carray(out, (a_rows, b_cols)))


def _c_tiles_tn(a, b, out, a_rows, a_cols, b_rows, b_cols):
    A, B = carray(a, (a_rows, a_cols)), carray(b, (b_rows, b_cols))
    fma_tiles(TN, A, B, carray(out, (a_cols, b_cols)))


def _c_tiles_nst(a, b, out, a_rows, a_cols, b_rows, b_cols):
    A, B = carray(a, (a_rows, a_cols)), carray(b, (b_rows, b_cols))
    fma_tiles(NN_STORED_TRANSPOSED, A, B, carray(out, (b_cols, a_rows)))


C_BODIES = {
    "tiles_nn": _c_tiles_nn,
    "tiles_tn": _c_tiles_tn,
    "tiles_nst": _c_tiles_nst,
    "small_nn": _c_nn,
    "small_tn": _c_tn,
    "small_nt": _c_nt,
}
C_NAMES = tuple(C_BODIES)
C_TABLE_SYMBOL = "fastmlp_c_table_f32"
# Entry i: the address of C_NAMES[i]'s C function, or null until it is loaded.
C_TABLE = (ctypes.c_void_p * len(C_NAMES))()
binding.add_symbol(C_TABLE_SYMBOL, ctypes.addressof(C_TABLE))
_c_functions = {}
_c_lock = threading.RLock()


def ensure_c_function(name):
    """Compile (or load) the micro-kernel ``name``'s C function and enter it in C_TABLE,
    once per process."""
    with _c_lock:
        if name not in _c_functions:
            compiled = c_function(C_BODIES[name], C_SIGNATURE)
            _c_functions[name] = compiled
            C_TABLE[C_NAMES.index(name)] = compiled.address


# The C functions the layers call, and first the tiles they call.
LAYER_C_FUNCTIONS = ("tiles_nn", "tiles_tn", "tiles_nst", "small_nn", "small_tn", "small_nt")


def ensure_c_functions():
    for name in LAYER_C_FUNCTIONS:
        ensure_c_function(name)


def layer_c_functions_loaded():
    return all(name in _c_functions for name in LAYER_C_FUNCTIONS)


# Beyond this many rows in a call's every batch, no rule picks a micro-kernel.
MICRO_KERNEL_ROWS = math.inf if MANY else BIG_NT_ROWS


def may_pick_micro_kernels(rows, layer_sizes, many=MANY):
    """Whether float32 products over batches of ``rows`` rows or more, through dense
    layers of these sizes, may pick a micro-kernel: true wherever one of the rules above
    is (a test checks it on a grid), and under "few" false for most calls, which then
    need no C function."""
    if many:
        return True
    if rows > BIG_NT_ROWS:
        return False
    return rows == 1 or any(a * b >= BIG for a, b in zip(layer_sizes, layer_sizes[1:]))


def prepare_products(dtype, rows, layer_sizes, caller=None):
    """Load the micro-kernels before a kernel call of ``dtype`` whose products may pick
    one (:func:`may_pick_micro_kernels`); ``rows``: the fewest rows of any of its
    batches. True once every micro-kernel ``dtype`` can pick is loaded.

    ``caller``: ``(kernel, args)`` of that call. Where the kernel (and the micro-kernels it
    may pick) still need compiling, they compile at once, in two processes (ahead.py).
    """
    float32 = dtype == np.float32
    needs_c = float32 and not layer_c_functions_loaded()
    needs_c = needs_c and may_pick_micro_kernels(rows, layer_sizes)
    may_compile = caller is not None and not caller[0].overloads
    if may_compile or needs_c:
        with _c_lock:  # one child at a time
            c_missing = needs_c and not layer_c_functions_loaded()
            c_functions = _uncompiled_c_functions() if c_missing else []
            if may_compile and ahead.worth_a_child(caller[0], c_functions):
                ahead.compile_beside(*caller, dtype, c_missing)
            if needs_c:
                ensure_c_functions()
    return not float32 or layer_c_functions_loaded()


def _uncompiled_c_functions():
    return [uncompiled_c_function(C_BODIES[name], C_SIGNATURE) for name in LAYER_C_FUNCTIONS]


@intrinsic
def stack_matrix(typingctx, rows, cols, like):
    """An uninitialised C-contiguous (rows, cols) array of ``like``'s dtype on the stack of
    the function it is inlined into (no memory owner: freed when that function returns)."""
    array_type = types.Array(like.dtype, 2, "C")

    def codegen(context, builder, signature, args):
        rows, cols = (
            context.cast(builder, v, t, types.intp) for v, t in zip(args[:2], signature.args)
        )
        element = context.get_data_type(like.dtype)
        itemsize = context.get_constant(types.intp, context.get_abi_sizeof(element))
        array = make_array(array_type)(context, builder)
        populate_array(
            array,
            data=builder.alloca(element, size=builder.mul(rows, cols)),
            shape=[rows, cols],
            strides=[builder.mul(cols, itemsize), itemsize],
            itemsize=itemsize,
            meminfo=None,
        )
        return array._getvalue()

    return array_type(rows, cols, like), codegen


@intrinsic(prefer_literal=True)
def call_c(typingctx, name, A, B, out):
    """The micro-kernel ``name`` (a key of C_BODIES) on float32 C-contiguous 2-d arrays,
    through its C function; false, and nothing done, while that is not loaded
    (:func:`ensure_c_function`)."""
    if not isinstance(name, types.StringLiteral):
        return None
    index = C_NAMES.index(name.literal_value)

    def codegen(context, builder, signature, args):
        pointer, size = ir.FloatType().as_pointer(), ir.IntType(64)
        fn_type = ir.FunctionType(ir.VoidType(), [pointer] * 3 + [size] * 4)
        table = builder.module.globals.get(C_TABLE_SYMBOL)
        if table is None:  # declared, not defined: it links to the process's C_TABLE
            entries = ir.ArrayType(ir.IntType(8).as_pointer(), len(C_NAMES))
            table = ir.GlobalVariable(builder.module, entries, C_TABLE_SYMBOL)
        address = builder.load(cgutils.gep_inbounds(builder, table, 0, index))
        loaded = cgutils.is_not_null(builder, address)
        with builder.if_then(loaded, likely=True):
            arrays = [
                make_array(t)(context, builder, v) for t, v in zip(signature.args[1:], args[1:])
            ]
            shapes = [cgutils.unpack_tuple(builder, x.shape, 2) for x in arrays[:2]]
            fn = builder.bitcast(address, fn_type.as_pointer())
            builder.call(fn, [x.data for x in arrays] + [*shapes[0], *shapes[1]])
        return loaded

    return types.boolean(name, A, B, out), codegen
