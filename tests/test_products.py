"""The layers' products (kernels/cpu/products.py): the micro-kernels against BLAS and a
float64 NumPy reference on odd shapes in both dtypes, and the per-shape choice between
them."""

import ctypes
import math
from functools import partial

import numba
import numpy as np
import pytest
import threadpoolctl
from numba import njit
from numpy.testing import assert_allclose, assert_array_equal

import fastmlp.kernels.cpu
from fastmlp.kernels import config
from fastmlp.kernels.cpu import jit, products
from fastmlp.kernels.cpu.tiles import NN, fma_tiles

ODD = [1, 3, 17, 63, 65, 129]
MICRO_RULES = (products.micro_nn_wins, products.micro_nt_wins, products.micro_tn_wins)


@njit
def _micro(A, B, C, D, E, F, out_nn, out_nt, out_tn):
    fma_tiles(NN, A, B, out_nn)
    products.small_nt(C, D, out_nt)
    products.small_tn(E, F, out_tn)


@njit
def _micro_c(A, B, C, D, E, F, out_nn, out_nt, out_tn):
    # float32's micro-kernels as the layers call them: through their C functions (A.T @ D
    # over more than two rows multiplies a transposed copy there).
    products.call_c("small_nn", A, B, out_nn)
    products.call_c("small_nt", C, D, out_nt)
    products.call_c("small_tn", E, F, out_tn)


@njit
def _blas(A, B, C, D, E, F, out_nn, out_nt, out_tn):
    products.matmul(A, B, out_nn, False, False)
    products.matmul(C, D, out_nt, False, True)
    products.matmul(E, F, out_tn, True, False)


@njit
def _chosen(A, B, C, D, E, F, out_nn, out_nt, out_tn):
    products.product(A, B, out_nn)
    products.product_nt(C, D, out_nt)
    products.product_tn(E, F, out_tn)


def _operands(n, k, m, dtype):
    """A @ B (n x k @ k x m), C @ D.T (n x m @ (k x m).T) and E.T @ F ((n x k).T @ n x m),
    and outputs that start as NaN so that an unwritten entry fails."""
    rng = np.random.RandomState(n * 10_000 + k * 100 + m)
    shapes = [(n, k), (k, m), (n, m), (k, m), (n, k), (n, m)]
    arrays = [rng.randn(*s).astype(dtype) for s in shapes]
    outs = [np.full(s, np.nan, dtype) for s in [(n, m), (n, k), (k, m)]]
    return arrays, outs


def _expected(A, B, C, D, E, F):
    f64 = [x.astype(np.float64) for x in (A, B, C, D, E, F)]
    return f64[0] @ f64[1], f64[2] @ f64[3].T, f64[4].T @ f64[5]


def _tolerance(dtype, inner):
    # Sums of `inner` products of unit normals, in another order than the reference's.
    eps = np.finfo(dtype).eps
    return dict(rtol=4 * eps * np.sqrt(inner), atol=4 * eps * inner)


@pytest.fixture(scope="module")
def c_functions():
    """The C functions _micro_c calls (and the tiles they call), loaded whichever profile
    this process runs."""
    products.ensure_c_functions()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m", ODD)
@pytest.mark.parametrize("k", ODD)
@pytest.mark.parametrize("n", [1, 2, 3, 4, 8, 17])
def test_micro_kernels_match_blas_and_reference(c_functions, n, k, m, dtype):
    arrays, micro = _operands(n, k, m, dtype)
    _, blas = _operands(n, k, m, dtype)
    (_micro_c if dtype == np.float32 else _micro)(*arrays, *micro)
    _blas(*arrays, *blas)
    for got, by_blas, expected, inner in zip(micro, blas, _expected(*arrays), (k, m, n)):
        assert_allclose(got, expected, **_tolerance(dtype, inner))
        assert_allclose(got, by_blas, **_tolerance(dtype, inner))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m", [1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 40, 47])
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 9])
def test_small_nn_on_every_side_of_its_tiles(c_functions, n, m, dtype):
    # Whole SIMD vectors of out's columns go to tiles (four rows by two vectors, a row by
    # four, by one), the rest to one masked vector: every boundary at 4 (AVX2 float64), 8
    # and 16 lanes, with rows left over by four.
    arrays, micro = _operands(n, 63, m, dtype)
    (_micro_c if dtype == np.float32 else _micro)(*arrays, *micro)
    assert_allclose(micro[0], _expected(*arrays)[0], **_tolerance(dtype, 63))


@pytest.mark.parametrize("m", range(1, products.NARROW_OUT + 2))
@pytest.mark.parametrize("n", [1, 2, 5, 16, 33])
def test_narrow_outs_are_right_along_a_rows(c_functions, n, m):
    # A @ W with one column (dot products) and A.T @ D narrower than NARROW_OUT (tiles of
    # D.T @ A stored transposed), on both sides of the width that leaves them.
    arrays, micro = _operands(n, 63, m, np.float32)
    _micro_c(*arrays, *micro)
    expected = _expected(*arrays)
    assert_allclose(micro[0], expected[0], **_tolerance(np.float32, 63))
    assert_allclose(micro[2], expected[2], **_tolerance(np.float32, n))


@pytest.mark.parametrize("m", [1, products.NT_NARROW - 1, products.NT_NARROW, 40])
@pytest.mark.parametrize("n", [products.SMALL_ROWS, products.SMALL_ROWS + 1, 8, 16, 21, 31, 32])
def test_d_w_t_over_many_rows_is_right_through_transposed_copies(c_functions, n, m):
    # Beyond SMALL_ROWS rows: tiles on a transposed copy of W for D narrower than
    # NT_NARROW or W's 64 rows within W_COPY_RATIO times D's (here from 32 rows), else on
    # one of D, stored transposed.
    assert (64 <= products.W_COPY_RATIO * n) == (n >= 32)
    arrays, micro = _operands(n, 64, m, np.float32)
    _micro_c(*arrays, *micro)
    assert_allclose(micro[1], _expected(*arrays)[1], **_tolerance(np.float32, m))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "n,k,m",
    [
        *[(1, 20, 64), (2, 65, 3), (2, 17, 33), (8, 63, 33), (9, 17, 64), (40, 64, 10)],
        *[(200, 64, 100), (2, 1024, 1024), (4, 1024, 1024), (5, 1024, 1024)],  # big layers
    ],
)
def test_chosen_products_are_right_on_both_sides_of_the_threshold(n, k, m, dtype):
    arrays, outs = _operands(n, k, m, dtype)
    _chosen(*arrays, *outs)
    for got, expected, inner in zip(outs, _expected(*arrays), (k, m, n)):
        assert_allclose(got, expected, **_tolerance(dtype, inner))


@pytest.mark.parametrize("n", [1, 2, 8, 16])
def test_float64_always_goes_to_blas(n):
    # BLAS's summation order is what keeps float64 fits bit for bit equal to scikit-learn's.
    arrays, chosen = _operands(n, 64, 64, np.float64)
    _, blas = _operands(n, 64, 64, np.float64)
    _chosen(*arrays, *chosen)
    _blas(*arrays, *blas)
    for got, by_blas in zip(chosen, blas):
        assert_array_equal(got, by_blas)


def test_the_choice_follows_the_measured_table():
    # "many": the profile for BLAS with slow few-row products (OpenBLAS's AVX2 kernels),
    # here with AVX-512 tiles (measured on a Zen 5): every width up to 32 rows, and beyond
    # that one core's work at least eight wide.
    nn, nt, tn = (partial(f, many=True, wide_simd=True) for f in MICRO_RULES)
    assert nn(1, 64, 2) and nn(2, 64, 10) and nn(2, 784, 4096) and nt(2, 64, 3)  # 1-2 rows
    assert nn(32, 784, 32) and nn(3, 64, 256) and nn(16, 64, 2) and nn(32, 100, 10)
    assert nt(3, 64, 10) and nt(16, 64, 64) and nt(32, 64, 64) and nt(16, 64, 2)
    assert tn(1, 20, 2) and tn(2, 20, 31) and tn(16, 64, 2) and tn(32, 64, 64)
    assert nn(200, 64, 100) and tn(200, 64, 100)  # 1.3 M multiply-adds: one core's work
    assert nn(200, 100, 10) and tn(200, 128, 10)  # 8+ wide: a vector half filled or more
    # Narrower, BLAS: A @ W 200x64x2 1.92 us against the tiles' 2.29 (A.T @ D's tiles would
    # still win, 2.56 against 3.70; the one rule serves both).
    assert not nn(200, 64, 2) and not tn(200, 64, 2)
    assert not nn(128, 256, 128) and not tn(256, 1024, 1024)  # BLAS's two threads pay
    # D @ W.T by the same rule, its out rows x fan_in, sums of width products.
    assert nt(33, 64, 64) and nt(200, 64, 100) and nt(200, 128, 10) and nt(200, 64, 2)
    assert not nt(128, 256, 128) and not nt(48, 784, 256) and not nt(200, 2, 64)


def test_on_an_avx2_cpu_the_micro_kernels_take_fewer_rows():
    # Their SIMD vectors are then no wider than AVX2 BLAS's: it wins whole layers, and all
    # three products stop at 32 rows; the tiles win narrow outputs too.
    nn, nt, tn = (partial(f, many=True, wide_simd=False) for f in MICRO_RULES)
    assert nn(32, 64, 64) and tn(32, 64, 100) and nn(2, 64, 10) and tn(1, 20, 2)
    assert nn(16, 64, 2) and tn(16, 64, 2) and tn(2, 64, 2) and nn(32, 100, 10)
    assert not nn(33, 64, 64) and not nn(200, 64, 100) and not tn(200, 64, 100)
    assert nt(4, 64, 32) and nt(2, 64, 3) and nt(16, 64, 64) and nt(32, 20, 64)
    assert nt(16, 64, 2) and nt(32, 100, 10) and not nt(33, 64, 64) and not nt(33, 64, 2)


def test_with_fast_blas_only_one_row_and_big_layer_products_leave_it():
    # "few": BLAS's AVX-512 kernels (the micro-kernels win one-row A.T @ D, one-row D @ W.T
    # too narrow to fill a SIMD vector, and few-row products of big layers).
    nn, nt, tn = (partial(f, many=False) for f in MICRO_RULES)
    assert not any(nn(n, 64, 64) or nn(n, 784, 256) for n in (1, 2, 16))
    assert nn(1, 1024, 1024) and nn(2, 1024, 1024) and not nn(3, 1024, 1024)
    assert tn(1, 20, 64) and tn(1, 784, 256) and not tn(2, 20, 64) and not tn(16, 64, 64)
    assert nt(1, 64, 2) and nt(1, 64, 10) and not nt(1, 20, 64) and not nt(2, 64, 10)
    assert nt(4, 1024, 1024) and not nt(5, 1024, 1024) and not nt(2, 784, 256)


@pytest.mark.parametrize("many", [True, False])
def test_micro_kernels_are_loaded_for_every_call_that_may_pick_one(many):
    # The backend loads the C functions only where may_pick_micro_kernels says a call may
    # need them: it must hold wherever a rule picks a micro-kernel, at the call's fewest
    # rows or more.
    sizes = [1, 2, 3, 10, 16, 20, 64, 100, 256, 784, 1024, 4096]
    rows = [1, 2, 3, 4, 5, 8, 16, 17, 32, 33, 64, 200]
    for fan_in in sizes:
        for width in sizes:
            for fewest in rows:
                picked = any(
                    rule(n, fan_in, width, many=many)
                    for n in rows
                    if n >= fewest
                    for rule in MICRO_RULES
                )
                if picked:
                    assert products.may_pick_micro_kernels(fewest, [fan_in, width], many)
                # The backend asks only at MICRO_KERNEL_ROWS rows or fewer ("few").
                assert many or fewest <= products.BIG_NT_ROWS or not picked
    assert not products.may_pick_micro_kernels(2, [20, 64, 64, 2], many=False)
    assert not products.may_pick_micro_kernels(5, [784, 2048, 10], many=False)
    assert products.MICRO_KERNEL_ROWS == (math.inf if products.MANY else products.BIG_NT_ROWS)


def test_a_product_runs_on_blas_while_its_micro_kernel_is_not_loaded(c_functions):
    # One-row A.T @ D and D @ W.T picks a micro-kernel under either profile.
    arrays, outs = _operands(1, 64, 2, np.float32)
    _, blas = _operands(1, 64, 2, np.float32)
    _blas(*arrays, *blas)
    loaded = list(products.C_TABLE)
    try:
        for i in range(len(loaded)):
            products.C_TABLE[i] = None
        _chosen(*arrays, *outs)
    finally:
        for i, address in enumerate(loaded):
            products.C_TABLE[i] = address
    for got, by_blas in zip(outs, blas):
        assert_array_equal(got, by_blas)


def test_the_profile_is_the_configured_one():
    assert products.MANY == (config.MICRO_KERNELS == "many")
    assert f"micro={config.MICRO_KERNELS}" in config.SETTINGS_KEY  # cached kernels differ
    assert f"wide_simd={config.WIDE_SIMD}" in config.SETTINGS_KEY


@pytest.mark.parametrize(
    "features,wide", [("+avx2,+fma,-avx512f", False), ("+avx2,+avx512f,+avx512bw", True)]
)
def test_wide_simd_follows_the_features_numba_compiles_for(monkeypatch, features, wide):
    monkeypatch.setattr(numba.config, "CPU_FEATURES", features)
    assert config._wide_simd() is wide


@pytest.mark.parametrize(
    "cores,profile",
    [
        ({"Haswell"}, "many"),
        ({"Zen"}, "many"),
        ({"SkylakeX"}, "few"),
        ({"Haswell", "Cooperlake"}, "few"),
        (set(), "few"),  # not OpenBLAS (MKL, Accelerate): fast small products
    ],
)
def test_auto_profile_follows_openblas_kernels(monkeypatch, cores, profile):
    libs = [{"internal_api": "openblas", "architecture": core} for core in cores]
    libs.append({"internal_api": "openmp"})
    monkeypatch.setattr(threadpoolctl, "threadpool_info", lambda: libs)
    monkeypatch.delenv("FASTMLP_MICRO_KERNELS", raising=False)
    assert config._micro_kernels() == profile


def test_the_profile_can_be_forced_and_a_bad_one_is_named(monkeypatch):
    monkeypatch.setenv("FASTMLP_MICRO_KERNELS", "many")
    assert config._micro_kernels() == "many"
    monkeypatch.setenv("FASTMLP_MICRO_KERNELS", "most")
    with pytest.raises(ValueError, match="FASTMLP_MICRO_KERNELS must be auto, many or few"):
        config._micro_kernels()


def test_non_finite_values_propagate():
    # A NaN or infinity in an operand must reach the output (the overflow checks rely on it).
    arrays, outs = _operands(1, 17, 33, np.float32)
    arrays[1][5, 7] = np.nan  # B: column 7 of A @ B
    arrays[3][4, 2] = np.inf  # D: column 4 of C @ D.T
    arrays[5][0, 9] = np.nan  # F: column 9 of E.T @ F
    _micro(*arrays, *outs)
    assert np.isnan(outs[0][0, 7]) and np.isfinite(np.delete(outs[0], 7, axis=1)).all()
    assert not np.isfinite(outs[1][0, 4]) and np.isfinite(np.delete(outs[1], 4, axis=1)).all()
    assert np.isnan(outs[2][:, 9]).all() and np.isfinite(np.delete(outs[2], 9, axis=1)).all()


# Every C function body, whichever profile this process runs (the layers compile only theirs),
# by the product it computes.
C_BODY_FORMS = {
    "_c_nn": "nn",
    "_c_tn": "tn",
    "_c_nt": "nt",
    "_c_tiles_nn": "nn",
    "_c_tiles_tn": "tn",
}


@pytest.fixture(scope="module")
def c_bodies(c_functions):
    return {
        name: jit.c_function(getattr(products, name), products.C_SIGNATURE) for name in C_BODY_FORMS
    }


@pytest.mark.parametrize("name", sorted(C_BODY_FORMS))
@pytest.mark.parametrize("n,k,m", [(1, 17, 65), (2, 63, 3), (3, 65, 17), (17, 129, 63)])
def test_each_c_body_matches_the_reference(c_bodies, name, n, k, m):
    A, B, C, D, E, F = _operands(n, k, m, np.float32)[0]
    out_nn, out_nt, out_tn = _expected(A, B, C, D, E, F)
    a, b, expected, inner = {
        "nn": (A, B, out_nn, k),
        "nt": (C, D, out_nt, m),
        "tn": (E, F, out_tn, n),
    }[C_BODY_FORMS[name]]
    out = np.full(expected.shape, np.nan, np.float32)
    pointer = ctypes.POINTER(ctypes.c_float)
    c_bodies[name].ctypes(*(x.ctypes.data_as(pointer) for x in (a, b, out)), *a.shape, *b.shape)
    assert_allclose(out, expected, **_tolerance(np.float32, inner))


@pytest.mark.parametrize("many", [True, False])
def test_the_backend_loads_micro_kernels_only_for_calls_that_may_pick_one(monkeypatch, many):
    from fastmlp import Network, backend

    loads = []
    may_pick = partial(products.may_pick_micro_kernels, many=many)
    monkeypatch.setattr(products, "may_pick_micro_kernels", may_pick)
    rows = math.inf if many else products.BIG_NT_ROWS
    monkeypatch.setattr(fastmlp.kernels.cpu, "MICRO_KERNEL_ROWS", rows)
    monkeypatch.setattr(products, "_c_functions", {})
    monkeypatch.setattr(products, "ensure_c_functions", lambda: loads.append(1))
    monkeypatch.setattr(backend, "_products_ready", set())
    monkeypatch.setattr(backend, "_latency_kernels", {})  # as in a fresh process
    assert backend.fewest_rows(512, 200) == 112 and backend.fewest_rows(400, 200) == 200
    assert backend.fewest_rows(401, 200) == 1 and backend.fewest_rows(3, 200) == 3
    rng = np.random.RandomState(0)
    X, Y = rng.rand(401, 20).astype(np.float32), rng.rand(401, 2).astype(np.float32)
    net = Network([20, 16, 2], dtype="float32")
    net.fit(X[:400], Y[:400], batch_size=200, max_iter=1)
    net.forward(X[:8])
    Network([20, 16, 2], dtype="float64").fit(X[:1].astype(np.float64), Y[:1].astype(np.float64))
    assert len(loads) == (2 if many else 0)  # "many" may pick one at any batch size
    net.fit(X, Y, batch_size=200, max_iter=1)  # its last batch has one row
    assert len(loads) == (3 if many else 1)
    net.forward(X[:1])
    assert len(loads) == (4 if many else 2)


def test_the_tiles_refuse_arrays_they_cannot_address():
    # The tiles compute addresses for C-contiguous 2-d arrays of one float dtype; anything
    # else must fail to compile rather than read memory laid out otherwise.
    @njit
    def tiles(A, B, out):
        fma_tiles(NN, A, B, out)

    A, B = np.ones((4, 8), np.float32), np.ones((8, 16), np.float32)
    tiles(A, B, np.empty((4, 16), np.float32))  # compiles and runs
    for bad in (
        (A.T, B.T[:8], np.empty((8, 8), np.float32)),  # F-contiguous
        (A, B.astype(np.float64), np.empty((4, 16), np.float32)),  # mixed dtypes
        (A.astype(np.int32), B.astype(np.int32), np.empty((4, 16), np.int32)),
    ):
        with pytest.raises(numba.TypingError):
            tiles(*bad)


_TILES_WITH_VECTORS = """
import numpy as np
from numba import njit
from fastmlp.kernels.cpu import tiles
tiles.VECTOR_BYTES = {vector_bytes}  # LLVM splits vectors wider than the CPU's
NN, TN, NT = tiles.NN, tiles.TN, tiles.NN_STORED_TRANSPOSED

@njit
def run(A, B, nn, tn, nt):
    tiles.fma_tiles(NN, A, B, nn)
    tiles.fma_tiles(TN, A.T.copy(), B, tn)
    tiles.fma_tiles(NT, A, B, nt)

rng = np.random.RandomState(0)
for dtype in (np.float32, np.float64):
    for n, k, m in [(1, 17, 65), (3, 63, 33), (5, 16, 31), (9, 65, 129), (4, 8, 3)]:
        A, B = rng.randn(n, k).astype(dtype), rng.randn(k, m).astype(dtype)
        nn, tn = (np.full((n, m), np.nan, dtype) for _ in range(2))
        nt = np.full((m, n), np.nan, dtype)
        run(A, B, nn, tn, nt)
        expected = A.astype(np.float64) @ B.astype(np.float64)
        tol = 1e-4 if dtype == np.float32 else 1e-12
        for got in (nn, tn, nt.T):
            assert np.allclose(got, expected, rtol=tol, atol=tol * k), (dtype, n, k, m)
assert "<{lanes} x float>" in run.inspect_llvm(run.signatures[0])  # these vectors ran
print("ok")
"""


@pytest.mark.parametrize("vector_bytes", [32, 64])
def test_the_tiles_are_right_with_avx2_and_avx512_vectors(vector_bytes):
    # The tiles use 32-byte vectors, or 64-byte ones on an AVX-512 CPU (16 float32 lanes):
    # the same IR with twice the lanes, masks and both loop orders included, checked here
    # with either width on whatever CPU runs the tests.
    import subprocess
    import sys

    code = _TILES_WITH_VECTORS.format(vector_bytes=vector_bytes, lanes=vector_bytes // 4)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
