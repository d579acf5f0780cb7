"""The CUDA tests run where ``device="cuda"`` can: on an NVIDIA GPU, or in Numba's CUDA
simulator, which must be switched on before Numba is imported, so in a pytest run of its
own:

    NUMBA_ENABLE_CUDASIM=1 python -m pytest -q tests/cuda

Elsewhere they are skipped, except ``test_unavailable.py`` (the error without CUDA).
"""

import os
import sys
from pathlib import Path

import pytest

import fastmlp

SIMULATOR = os.environ.get("NUMBA_ENABLE_CUDASIM", "") == "1"
AVAILABLE = fastmlp.cuda_available()
RUNS_WITHOUT_CUDA = {"test_unavailable.py", "test_ptx.py"}

if SIMULATOR:
    # The simulator's block manager polls its threads (one Python thread per CUDA thread)
    # while holding the GIL: a short switch interval cuts the tests' time about 4x.
    sys.setswitchinterval(1e-6)


def pytest_configure(config):
    if SIMULATOR:
        # The simulator runs the random generators' 64-bit integer arithmetic on NumPy
        # scalars, which warn where a GPU wraps around silently (by design).
        config.addinivalue_line(
            "filterwarnings", "ignore:overflow encountered in scalar:RuntimeWarning"
        )
        # ... and seed them with CPU functions that fall back to object mode there.
        for message in (r"\s*Compilation is falling back to object mode",
                        "The keyword argument 'nopython=False'"):
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
