"""The CUDA target: training epochs and prediction with a ``device`` parameter.

Every benchmark takes ``device`` in ("cpu", "cuda"); the cuda ones are skipped (asv's
NotImplementedError in setup) where no usable GPU exists, and in Numba's simulator, whose
timings mean nothing. Cases are the small-width (fused) and wide networks of
bench/compare_cuda.py, in float32.
"""

import os

import numpy as np

import fastmlp

from .common import make_data, make_network, parse_case

DEVICES = ["cpu", "cuda"]
CASES = ["64-64-64-1@16384", "32-64-64-64-64-3@16384", "784-256-128-10@256", "784-1024-1024-10@256"]


def require(device):
    if device == "cuda" and (
        os.environ.get("NUMBA_ENABLE_CUDASIM") == "1" or not fastmlp.cuda_available()
    ):
        raise NotImplementedError("no usable CUDA GPU")


class CudaEpoch:
    """``Network.fit(max_iter=1)`` on 2^16 samples (2^14 for the wide networks)."""

    params = (CASES, DEVICES)
    param_names = ["network@batch", "device"]
    timeout = 300

    def setup(self, case, device):
        require(device)
        sizes, self.batch = parse_case(case)
        self.net = make_network(sizes, "float32").to(device)
        n = 2**16 if max(sizes) <= 128 else 2**14
        self.X, self.Y, _ = make_data(sizes, n, "float32")
        self.fit()

    def fit(self):
        return self.net.fit(
            self.X, self.Y, batch_size=self.batch, max_iter=1, random_state=0, diagnostics=False
        )

    def time_epoch(self, case, device):
        self.fit()


class CudaPredict:
    """``Network.forward`` on 2^16 rows (data copied to the device and back per call)."""

    params = (["64-64-64-1", "784-1024-1024-10"], DEVICES)
    param_names = ["network", "device"]

    def setup(self, network, device):
        require(device)
        sizes, _ = parse_case(network)
        self.net = make_network(sizes, "float32").to(device)
        self.X = np.ascontiguousarray(make_data(sizes, 2**16, "float32")[0])
        self.net.forward(self.X, chunk_size=2**16)

    def time_forward(self, network, device):
        self.net.forward(self.X, chunk_size=2**16)
