"""The kernels' matrix products (SciPy's gemm called through kernels/cpu/blas.py) against
NumPy, in the three forms the layers use: A @ B, A @ B.T and A.T @ B."""

import numpy as np
import pytest
from numba import njit
from numpy.testing import assert_allclose

from fastmlp.kernels.cpu import products


@njit
def _products(A, B, C, D, E, F, out_nn, out_nt, out_tn):
    products.matmul(A, B, out_nn, False, False)
    products.matmul(C, D, out_nt, False, True)
    products.matmul(E, F, out_tn, True, False)


# (n, k, m): tiny to wide, square and lopsided, single rows and columns.
SHAPES = [
    (1, 1, 1),
    (2, 3, 4),
    (16, 20, 64),
    (128, 784, 512),
    (3, 300, 7),
    (1, 1000, 1),
    (257, 1, 9),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,k,m", SHAPES)
def test_products_match_numpy(n, k, m, dtype):
    rng = np.random.RandomState(n * k + m)
    A, B = rng.randn(n, k).astype(dtype), rng.randn(k, m).astype(dtype)
    C, D = rng.randn(n, m).astype(dtype), rng.randn(k, m).astype(dtype)
    E, F = rng.randn(n, k).astype(dtype), rng.randn(n, m).astype(dtype)
    # Outputs start as NaN so that an unwritten entry fails.
    outs = [np.full(shape, np.nan, dtype) for shape in [(n, m), (n, k), (k, m)]]
    _products(A, B, C, D, E, F, *outs)
    rtol = 1e-4 if dtype == np.float32 else 1e-12
    for out, expected in zip(outs, [A @ B, C @ D.T, E.T @ F]):
        assert_allclose(out, expected, rtol=rtol, atol=rtol * np.abs(expected).max())
