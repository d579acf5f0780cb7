"""The CUDA tests run where ``device="cuda"`` can: on an NVIDIA GPU, or in Numba's CUDA
simulator, which must be switched on before Numba is imported, so in a pytest run of its
own:

    NUMBA_ENABLE_CUDASIM=1 python -m pytest -q tests/cuda

Elsewhere they are skipped, except ``test_cuda_unavailable.py`` (the error without CUDA)
and ``test_cuda_ptx.py`` (compiling to PTX needs no GPU).
"""

import os
import sys
import threading
import traceback
from pathlib import Path

import pytest

import fastmlp

SIMULATOR = os.environ.get("NUMBA_ENABLE_CUDASIM", "") == "1"
AVAILABLE = fastmlp.cuda_available()
RUNS_WITHOUT_CUDA = {"test_cuda_unavailable.py", "test_cuda_ptx.py"}


def _lock_simulated_shared_memory():
    """Make the simulator's shared-array allocation atomic.

    ``FakeCUDAShared.array`` (numba-cuda 0.30) looks up a block's array for the calling
    line and creates it when missing, without a lock: two of the block's threads can both
    create one and then no longer share it (a kernel's results vary from run to run). This
    is the same lookup under a lock.
    """
    import numpy as np
    from numba.core import types
    from numba.cuda.simulator import kernelapi
    from numba.np import numpy_support

    original = kernelapi.FakeCUDAShared.array
    lock = threading.Lock()

    def array(self, shape, dtype, alignment=None):
        if shape == 0 or alignment is not None:  # dynamic shared memory, or an error
            return original(self, shape, dtype, alignment)
        if isinstance(dtype, types.Type):
            dtype = numpy_support.as_dtype(dtype)
        caller = traceback.extract_stack(sys._getframe(1), limit=1)[0][0:2]
        with lock:
            res = self._allocations.get(caller)
            if res is None:
                res = self._allocations[caller] = np.empty(shape, dtype)
        return res

    kernelapi.FakeCUDAShared.array = array


if SIMULATOR:
    # The simulator's block manager polls its threads (one Python thread per CUDA thread)
    # while holding the GIL: a short switch interval cuts the tests' time about 4x.
    sys.setswitchinterval(1e-6)
    _lock_simulated_shared_memory()


def pytest_configure(config):
    if SIMULATOR:
        # The simulator runs the random generators' 64-bit integer arithmetic on NumPy
        # scalars, which warn where a GPU wraps around silently (by design).
        config.addinivalue_line(
            "filterwarnings", "ignore:overflow encountered in scalar:RuntimeWarning"
        )
        # ... and seed them with CPU functions that fall back to object mode there.
        for message in (
            r"\s*Compilation is falling back to object mode",
            "The keyword argument 'nopython=False'",
        ):
            config.addinivalue_line("filterwarnings", f"ignore:{message}")


def pytest_collection_modifyitems(config, items):
    if AVAILABLE:
        return
    skip = pytest.mark.skip(
        reason="needs a CUDA GPU or Numba's simulator: run "
        "NUMBA_ENABLE_CUDASIM=1 python -m pytest -q tests/cuda"
    )
    here = Path(__file__).parent
    for item in items:
        path = Path(str(item.fspath))
        if path.parent == here and path.name not in RUNS_WITHOUT_CUDA:
            item.add_marker(skip)
