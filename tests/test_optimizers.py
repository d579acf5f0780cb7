"""The CPU optimizer kernel's arithmetic: float32 divides by the CPU's reciprocal estimate
refined by a Newton step (kernels/cpu/jit.py, ``divisions_by_estimate``), which must stay
within a few float32 ulp of exact division; float64 divides exactly."""

import numpy as np
import pytest

from fastmlp import reference as ref
from fastmlp.kernels import codes, layout
from fastmlp.kernels.cpu import optimizer_update

SETTINGS = dict(learning_rate=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-8, rho=0.9)


def _state(rng, grad, dtype):
    # Second moments and squared-gradient sums are never negative; include zeros. Adam's
    # first moment has the gradient's sign: a sum that cancels would amplify any rounding.
    s1 = rng.uniform(0.0, 1.0, grad.size) * np.sign(grad)
    s2 = rng.uniform(0.0, 1.0, grad.size)
    s1[:3] = s2[:3] = 0.0
    return np.abs(s1).astype(dtype), s2.astype(dtype), s1.astype(dtype)


def _reference_step(solver, grad, s1, s2, step):
    g, zeros = grad.astype(np.float64), np.zeros(grad.size)
    lr, eps = SETTINGS["learning_rate"], SETTINGS["epsilon"]
    if solver == "adam":
        b1, b2 = SETTINGS["beta_1"], SETTINGS["beta_2"]
        return ref.adam_step(
            zeros, g, s1.astype(float), s2.astype(float), step - 1, lr, b1, b2, eps
        )[0]
    if solver == "adagrad":
        return ref.adagrad_step(zeros, g, s1.astype(float), lr, eps)[0]
    return ref.rmsprop_step(zeros, g, s1.astype(float), lr, SETTINGS["rho"], eps)[0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("solver", ["adam", "adagrad", "rmsprop"])
def test_updates_that_divide_are_within_a_few_ulp(solver, dtype):
    rng = np.random.default_rng(3)
    size, step = 1000, 4  # SIMD blocks and a remainder
    grad = rng.normal(size=size).astype(dtype) * 10.0 ** rng.integers(-4, 3, size)
    accum, s2, m = _state(rng, grad, dtype)
    s1 = m if solver == "adam" else accum
    expected = _reference_step(solver, grad, s1, s2, step)
    params = np.zeros(size, dtype)  # so that params becomes minus the step itself
    hp = layout.hyperparameters(dtype, **SETTINGS)
    optimizer_update(codes.SOLVERS[solver], params, grad, s1, s2, step, hp, 0)
    # Exact float32 arithmetic is within ~3 eps of the float64 reference; the estimate
    # refined once adds ~2 eps (unrefined, it would be off by ~2**-12).
    rtol = 8 * np.finfo(dtype).eps if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(params, expected, rtol=rtol, atol=0)


def test_a_non_finite_gradient_surfaces_in_the_parameters():
    # What the divergence checks rely on, whichever way the division is done.
    grad = np.array([1.0, np.inf, np.nan], np.float32)
    params, m, v = np.zeros(3, np.float32), np.zeros(3, np.float32), np.zeros(3, np.float32)
    hp = layout.hyperparameters(np.float32, **SETTINGS)
    optimizer_update(codes.SOLVERS["adam"], params, grad, m, v, 1, hp, 0)
    assert np.isfinite(params[0]) and not np.isfinite(params[1:]).any()
