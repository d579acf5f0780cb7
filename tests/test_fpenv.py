"""Kernels flush denormals to zero while they run and leave the caller's FP state alone."""

import numpy as np
import pytest

from fastmlp import Network
from fastmlp.kernels.cpu import fpenv

pytestmark = pytest.mark.skipif(not fpenv.X86, reason="MXCSR exists on x86 only")

TINY32 = np.finfo(np.float32).tiny


def _identity_net():
    net = Network(
        [1, 1],
        activation="identity",
        output_activation="identity",
        loss="squared_error",
        dtype="float32",
    )
    net.coefs[0][:] = 1e-30
    net.intercepts[0][:] = 0.0
    return net


def test_denormal_results_are_flushed_inside_kernels():
    # 1e-10 * 1e-30 = 1e-40 is a float32 denormal: flushed to 0 in the kernel.
    out = _identity_net().forward(np.array([[1e-10]], dtype=np.float32))
    assert out[0, 0] == 0.0
    assert np.float32(1e-10) * np.float32(1e-30) != 0.0  # NumPy outside: still denormal


def test_caller_state_restored_after_every_entry_kernel():
    net = _identity_net()
    X = np.array([[1e-10]], dtype=np.float32)
    net.forward(X)
    net.loss_and_grad(X, np.zeros((1, 1), dtype=np.float32))
    net.fit(X, np.zeros((1, 1), dtype=np.float32), max_iter=1, solver="sgd")
    product = np.float32(1e-10) * np.float32(1e-30)
    assert 0.0 < product < TINY32
