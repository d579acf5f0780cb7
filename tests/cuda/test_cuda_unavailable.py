"""device="cuda" where CUDA cannot run: a clear error naming what is missing.

These run in the normal test suite (no simulator, no GPU); where CUDA is usable they
check only what holds everywhere.
"""

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

import fastmlp
from fastmlp import backend
from fastmlp.backend import DeviceUnavailableError


@pytest.fixture
def fresh_cuda_target(monkeypatch):
    """Forget a loaded cuda target, so the next request loads it again."""
    monkeypatch.delitem(backend._LOADED, "cuda", raising=False)


def test_import_fastmlp_does_not_import_cuda():
    code = "import sys, fastmlp; print('numba.cuda' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.skipif(fastmlp.cuda_available(), reason="CUDA is usable here")
def test_no_driver_or_device_is_named(fresh_cuda_target):
    assert fastmlp.cuda_available() is False
    with pytest.raises(DeviceUnavailableError) as info:
        fastmlp.Network([3, 4, 1], device="cuda")
    message = str(info.value)
    if importlib.util.find_spec("numba_cuda") is None:
        assert "numba-cuda" in message
    else:
        assert "driver" in message or "device" in message


def test_missing_package_is_named(monkeypatch, fresh_cuda_target):
    monkeypatch.setitem(sys.modules, "numba.cuda", None)  # import numba.cuda fails
    assert fastmlp.cuda_available() is False
    with pytest.raises(DeviceUnavailableError, match=r"numba-cuda.*fastmlp\[cuda\]"):
        fastmlp.Network([3, 4, 1], device="cuda")
    with pytest.raises(DeviceUnavailableError, match="numba-cuda"):
        fastmlp.MLPRegressor(hidden_layer_sizes=(3,), device="cuda").fit(
            np.zeros((4, 2)), np.zeros(4)
        )


def test_unknown_device_is_a_value_error():
    with pytest.raises(ValueError, match="Unknown device 'gpu'"):
        fastmlp.Network([3, 4, 1], device="gpu")


def test_cpu_network_moves_nowhere_unknown():
    net = fastmlp.Network([3, 4, 1], random_state=0)
    before = net.params.copy()
    with pytest.raises(ValueError, match="Unknown device"):
        net.to("tpu")
    assert net.device == "cpu"
    np.testing.assert_array_equal(net.params, before)
