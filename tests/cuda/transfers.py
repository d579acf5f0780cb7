"""Counting host <-> device copies in Numba's CUDA simulator.

The simulator's device arrays wrap NumPy arrays; every copy between host and device goes
through one of four places, which :func:`count_transfers` wraps:

- ``to_device`` (``numba.cuda.to_device``, and the module function the simulator itself
  calls for a NumPy array passed to a kernel),
- a NumPy array passed to a kernel, which Numba copies in before the launch and back after
  it (``args.InOut.to_device``; its copy back is a ``copy_to_host``),
- ``DeviceNDArray.copy_to_host``,
- ``DeviceNDArray.copy_to_device`` from a host array (from a device array it is a copy
  within the device, counted apart).

On a GPU the same calls are the copies over PCIe/NVLink.
"""

import contextlib
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Transfers:
    """The copies seen: ``(kind, bytes)`` for each, in order."""

    log: list = field(default_factory=list)

    def between_host_and_device(self):
        return [(kind, size) for kind, size in self.log if kind != "device_to_device"]

    def count(self):
        return len(self.between_host_and_device())

    def largest(self):
        return max((size for _, size in self.between_host_and_device()), default=0)

    def total_bytes(self):
        return sum(size for _, size in self.between_host_and_device())

    def of_kind(self, kind):
        return [size for k, size in self.log if k == kind]


@contextlib.contextmanager
def count_transfers(monkeypatch):
    """Within the block, record every host <-> device copy (only in the simulator)."""
    from numba import cuda
    from numba.cuda.simulator import args as sim_args
    from numba.cuda.simulator.cudadrv import devicearray as sim_devicearray

    transfers = Transfers()
    log = transfers.log
    original_to_device = sim_devicearray.to_device
    original_to_host = sim_devicearray.FakeCUDAArray.copy_to_host
    original_copy_in = sim_devicearray.FakeCUDAArray.copy_to_device
    original_kernel_arg = sim_args.InOut.to_device

    def to_device(ary, *args, **kwargs):
        log.append(("to_device", np.asarray(ary).nbytes))
        return original_to_device(ary, *args, **kwargs)

    def kernel_arg(self, retr, stream=0):
        if isinstance(self.value, np.ndarray):
            log.append(("kernel_argument", self.value.nbytes))
            # the simulator's own to_device for it: counted here, not twice
            before = len(log)
            result = original_kernel_arg(self, retr, stream)
            del log[before:]
            return result  # its copy back after the launch is a copy_to_host
        return original_kernel_arg(self, retr, stream)

    def copy_to_host(self, ary=None, stream=0):
        log.append(("copy_to_host", self._ary.nbytes))
        return original_to_host(self, ary, stream)

    def copy_to_device(self, ary, stream=0):
        on_device = isinstance(ary, sim_devicearray.FakeCUDAArray)
        log.append(("device_to_device" if on_device else "copy_to_device", self._ary.nbytes))
        return original_copy_in(self, ary, stream)

    with monkeypatch.context() as patch:
        patch.setattr(sim_devicearray, "to_device", to_device)
        patch.setattr(cuda, "to_device", to_device)
        patch.setattr(sim_args.InOut, "to_device", kernel_arg)
        patch.setattr(sim_devicearray.FakeCUDAArray, "copy_to_host", copy_to_host)
        patch.setattr(sim_devicearray.FakeCUDAArray, "copy_to_device", copy_to_device)
        yield transfers
