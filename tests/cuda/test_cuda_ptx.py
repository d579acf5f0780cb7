"""Every CUDA kernel compiles for a real GPU (PTX for compute capability 9.0, an H100/H200)
in float32 and float64, with the argument types the drivers launch it with.

The simulator runs kernels as Python and checks none of the CUDA typing rules; this
compiles them with NVVM, which needs no GPU, only the CUDA compiler libraries
(``pip install "numba-cuda[cu13]"``). Skipped in the simulator and where NVVM is missing.
"""

import os

import numpy as np
import pytest

if os.environ.get("NUMBA_ENABLE_CUDASIM", "") == "1":
    pytest.skip("the simulator compiles nothing", allow_module_level=True)
cuda = pytest.importorskip("numba.cuda", reason="needs the numba-cuda package")

from numba import from_dtype, types  # noqa: E402

CC = (9, 0)


def _nvvm_available():
    try:
        cuda.compile_ptx(lambda a: None, (types.float64[::1],), cc=CC)
    except Exception:  # no NVVM / NVRTC library
        return False
    return True


pytestmark = pytest.mark.skipif(
    not _nvvm_available(), reason='needs NVVM: pip install "numba-cuda[cu13]"'
)


def signatures(dtype):
    """(kernel, argument types) for every kernel the CUDA target launches."""
    from numba.cuda.random import xoroshiro128p_dtype

    from fastmlp.kernels.cuda import dense, fused, losses, network, optimizers, reduce, train

    f = from_dtype(np.dtype(dtype))
    A1, A2 = f[::1], f[:, ::1]
    F1, I1 = types.float64[::1], types.int64[::1]
    i, x = types.int64, types.float64
    states = from_dtype(xoroshiro128p_dtype)[::1]
    fwd, delta, grads, softmax, dropout, sum_splits = dense.build(np.dtype(dtype))
    fused_forward, fused_deltas = fused.build(np.dtype(dtype))
    return [
        (fused_forward, (A2, A1, types.int64[:, ::1], F1, A1, i)),
        (fused_deltas, (A1, types.int64[:, ::1], F1, A1, A1, i, i)),
        (fwd, (A2, A2, A1, A2, i, x)),
        (delta, (A2, A2, A2, A2, i, x, A2)),
        (grads, (A2, A2, A2, A2, A1, F1, F1, f[:, :, ::1])),
        (sum_splits, (f[:, :, ::1], A2, A2, A1, F1, F1)),
        (softmax, (A2,)),
        (dropout, (A2, A2, x, states)),
        (losses.build(np.dtype(dtype)), (A2, A2, A1, i, x, i, F1, F1, F1, A2)),
        (optimizers.build(np.dtype(dtype)), (i, A1, A1, A1, A1, I1, F1, i, F1, F1)),
        (reduce.weight_total, (A1, i, F1)),
        (reduce.sum_into, (F1, i, F1, i)),
        (reduce.regularise, (A1, A1, i, F1, F1)),
        (reduce.layer_squares, (A1, types.int64[:, ::1], F1)),
        (network.combine_loss, (F1, F1)),
        (train.gather, (A2, A2, A1, I1, i, i, A2, A2, A1)),
        (train.finish_step, (F1, F1, F1, F1, F1, I1, i, types.boolean)),
        (train.track_peaks, (A2, A1, i, F1)),
        (train.zero_diagnostics, (A1, F1, F1)),
        (train.zero_fill, (A1,)),
        (train.flag_non_finite, (A1, F1)),
        (train.update_sums, (A1, A1, types.int64[:, ::1], types.float64[:, ::1])),
    ]


class _Device:
    """Stands in for a GPU where Numba compiles device functions: it asks the current
    device for its compute capability, and compiling needs nothing else from one."""

    compute_capability = CC


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_kernel_compiles_to_ptx(dtype, monkeypatch):
    from numba.cuda import dispatcher

    monkeypatch.setattr(dispatcher, "get_current_device", _Device)
    for kernel, argtypes in signatures(dtype):
        ptx, _ = cuda.compile_ptx(kernel.py_func, argtypes, cc=CC, fastmath=True)
        assert ".entry" in ptx, kernel.py_func.__name__
