"""The output layer's loss and delta (kernels/cpu/losses.py) against the float64 reference,
for every canonical pair: softmax log loss's flat float32 loops with their vectorised
logarithm, the row-by-row loops of float64, of strided blocks and of the other pairs, on
odd shapes."""

import numpy as np
import pytest
from numba import njit
from numpy.testing import assert_allclose

from fastmlp import reference
from fastmlp.kernels import codes
from fastmlp.kernels.cpu import losses

PAIRS = {
    "squared_error": codes.IDENTITY,
    "log_loss": codes.SOFTMAX,
    "binary_log_loss": codes.LOGISTIC,
    "poisson": codes.EXP,
}


@njit
def _logs(x, out):
    for k in range(x.size):
        out[k] = losses.log_positive(x[k])


@njit
def _leading_columns(A, Y, out_code, loss_code, eps, D, width):
    """The kernel on strided views (the first ``width`` columns)."""
    n = A.shape[0]
    no_weights = np.empty(0, A.dtype)
    return losses.output_loss_and_delta(
        A[:, :width], Y[:, :width], no_weights, n, out_code, 0.0, loss_code, eps, D[:, :width]
    )


@njit
def _compiled_softmax_log_loss(A, Y, eps, scale, D):
    return losses.unweighted_softmax_log_loss(A, Y, eps, scale, D)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_log_loss_body_says_what_its_overload_does(dtype):
    A, Y = _outputs("log_loss", 200, 10, dtype, seed=5)
    D_python, D_compiled = np.empty_like(A), np.empty_like(A)
    eps, scale = 1e-7, 1 / 200
    expected = losses.unweighted_softmax_log_loss(A, Y, eps, scale, D_python)
    got = _compiled_softmax_log_loss(A, Y, eps, scale, D_compiled)
    assert_allclose(got, expected, rtol=1e-10)
    assert_allclose(D_compiled, D_python, rtol=1e-6, atol=1e-9)


def test_log_positive_matches_numpy():
    x = np.concatenate([np.logspace(-307, 307, 100_001), np.linspace(0.5, 2.0, 100_001)])
    got = np.empty_like(x)
    _logs(x, got)
    assert_allclose(got, np.log(x), rtol=0, atol=5e-13)  # the series' bound (losses.py)
    _logs(np.array([1.0]), got[:1])
    assert got[0] == 0.0


def _outputs(loss, rows, width, dtype, seed):
    """Predictions a canonical output layer can give, and targets its loss takes."""
    rng = np.random.RandomState(seed)
    Z = rng.randn(rows, width) * 3
    if loss == "squared_error":
        A, Y = Z, rng.randn(rows, width)
    elif loss == "log_loss":
        A = np.exp(Z - Z.max(axis=1, keepdims=True))
        A /= A.sum(axis=1, keepdims=True)
        Y = np.eye(width)[rng.randint(0, width, rows)]
        A[0, 0] = 0.0  # clipped inside the logarithm
    elif loss == "binary_log_loss":
        A, Y = 1 / (1 + np.exp(-Z)), rng.randint(0, 2, (rows, width)).astype(float)
        A[0, 0] = 1.0
    else:
        A, Y = np.exp(Z), rng.poisson(2.0, (rows, width)).astype(float)
    return A.astype(dtype), Y.astype(dtype)


@pytest.mark.parametrize("loss", PAIRS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows, width", [(1, 1), (3, 2), (17, 3), (200, 10), (63, 17)])
def test_canonical_loss_and_delta_match_the_reference(loss, dtype, rows, width):
    A, Y = _outputs(loss, rows, width, dtype, seed=rows * 100 + width)
    eps = float(np.finfo(dtype).eps)
    D = np.full_like(A, np.nan)
    no_weights = np.empty(0, dtype)
    code, loss_code = PAIRS[loss], codes.LOSSES[loss]
    got = losses.output_loss_and_delta(A, Y, no_weights, rows, code, 0.0, loss_code, eps, D)
    A64, Y64 = A.astype(np.float64), Y.astype(np.float64)
    clipped = np.clip(A64, eps, 1 - eps) if "log_loss" in loss else A64
    expected = reference.loss(loss, Y64, clipped)
    # float32: each term from float32 differences and ratios, as the general loop takes
    # them (a - y, y / a).
    rel = 1e-6 if dtype == np.float32 else 1e-12
    assert got == pytest.approx(expected, rel=rel, abs=1e-300)
    assert_allclose(D, (A64 - Y64) / rows, rtol=np.finfo(dtype).eps, atol=0)
    # The same blocks as strided views take the row-by-row loop: the same numbers.
    wide = lambda M: np.pad(M, ((0, 0), (0, 3)), constant_values=0.5)  # noqa: E731
    D_view = np.full_like(wide(A), np.nan)
    strided = _leading_columns(wide(A), wide(Y), code, loss_code, eps, D_view, width)
    assert strided == pytest.approx(got, rel=rel)
    assert_allclose(D_view[:, :width], D, rtol=0, atol=0)
