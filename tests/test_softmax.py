"""The softmax kernel (kernels/cpu/dense.py) against a float64 NumPy reference: its
vectorised exp (float32 blocks) and the libm path (float64) on odd shapes, extreme rows,
and NaN and infinities that must propagate, not vanish."""

import numpy as np
import pytest
from numba import njit
from numpy.testing import assert_allclose, assert_array_equal

from fastmlp.kernels.cpu import dense


@njit
def _exp_all(x, out):
    for k in range(x.size):
        out[k] = dense.exp_nonpositive(x[k])


@njit
def _softmax(Z, b):
    dense.softmax_rows(Z, b)


def _reference(Z, b):
    Z = Z.astype(np.float64) + b
    e = np.exp(Z - Z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_exp_nonpositive_matches_numpy():
    x = np.concatenate([-np.linspace(0.0, 745.0, 200_001), [-0.0, -1e-300, -np.inf]])
    got = np.empty_like(x)
    _exp_all(x, got)
    expected = np.exp(np.maximum(x, -200.0))  # below -200: 2**-289, 0 in float32
    assert_allclose(got, expected, rtol=1e-8, atol=0.0)
    assert got[-3] == got[-2] == 1.0  # e**0 exactly
    assert 0.0 < got[-1] < 1e-86  # e**-inf: 0 once rounded to float32


def test_exp_nonpositive_passes_nan_through():
    got = np.empty(1)
    _exp_all(np.array([np.nan]), got)
    assert np.isnan(got[0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows", [1, 3, 17, 200])
@pytest.mark.parametrize("width", [2, 3, 17, 63, 65, 129])
def test_softmax_matches_reference(width, rows, dtype):
    rng = np.random.RandomState(width * 1000 + rows)
    Z = (rng.randn(rows, width) * 8).astype(dtype)
    b = rng.randn(width).astype(dtype)
    expected = _reference(Z, b)
    _softmax(Z, b)
    # float32: the shifted arguments are rounded to float32 (relative error |x| * 6e-8 in
    # e**x), the exp itself is good to 1e-8; float64 calls libm.
    rtol, atol = (2e-6, 1e-8) if dtype == np.float32 else (1e-13, 1e-300)
    assert_allclose(Z, expected, rtol=rtol, atol=atol)
    assert_allclose(Z.sum(axis=1), 1.0, rtol=10 * np.finfo(dtype).eps * width)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_extreme_rows(dtype):
    big = np.finfo(dtype).max / 4
    Z = np.array(
        [
            [0.0, -1000.0, -1e30],  # underflows to exact zeros
            [big, big, -big],  # huge but finite: the shift keeps it finite
            [-np.inf, 0.0, 1.0],  # exp(-inf) = 0
        ],
        dtype=dtype,
    )
    _softmax(Z, np.zeros(3, dtype))
    assert_array_equal(Z[0], [1.0, 0.0, 0.0])
    assert_allclose(Z[1], [0.5, 0.5, 0.0])
    assert Z[2, 0] == 0.0 and Z[2, 2] == pytest.approx(1 / (1 + np.exp(-1)), rel=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_non_finite_input_gives_nan_rows(dtype):
    # An overflowed layer must surface as NaN (the prediction and training checks catch it),
    # never as a plausible probability.
    Z = np.array([[np.nan, 0.0, 1.0], [np.inf, 0.0, 1.0], [0.0, 1.0, 2.0]], dtype=dtype)
    _softmax(Z, np.zeros(3, dtype))
    assert np.isnan(Z[0]).all() and np.isnan(Z[1, 0])
    assert np.isfinite(Z[2]).all()


@njit
def _softmax_leading_columns(Z, b, width):
    dense.softmax_rows(Z[:, :width], b)  # a strided view: the flat exp loop must not run


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_of_a_strided_view_writes_in_place(dtype):
    rng = np.random.RandomState(3)
    Z = rng.randn(17, 12).astype(dtype)
    b = rng.randn(5).astype(dtype)
    expected, untouched = _reference(Z[:, :5], b), Z[:, 5:].copy()
    _softmax_leading_columns(Z, b, 5)
    assert_allclose(Z[:, :5], expected, rtol=2e-6)
    assert_array_equal(Z[:, 5:], untouched)
