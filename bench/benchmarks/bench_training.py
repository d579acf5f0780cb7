"""End to end: one training epoch, a whole fit, prediction, peak memory and achieved GFLOP/s.

Every class compiles (or loads from Numba's cache) in ``setup`` by running the same call
once on the same data, so the timed body is steady-state work. Data are synthetic with a
fixed seed; sizes keep one call between ~10 ms and ~1 s on a 2-core machine.
"""

import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

import fastmlp

from .common import DTYPES, flops_per_sample, make_data, make_network, parse_case

# network@batch for the epoch benchmarks (the training rows of bench/compare.py).
EPOCH_CASES = [
    "10-32-1@1",
    "20-64-64-2@1",
    "20-64-64-2@8",
    "20-64-64-2@16",
    "64-100-10@200",
    "64-128-10@64",
    "784-256-10@128",
    "784-512-10@128",
    "784-256-128-10@128",
    "784-1024-1024-10@256",
    "256-1024-1024-10@256",
]


def n_samples_for(sizes):
    """Samples per epoch: 4096, down to 1024 for the widest network (~10 GFLOP an epoch)."""
    return int(np.clip(1e10 // flops_per_sample(sizes), 1024, 4096))


class Epoch:
    """``Network.fit(max_iter=1)``: one compiled epoch plus the per-fit Python around it."""

    params = (EPOCH_CASES, DTYPES)
    param_names = ["network@batch", "dtype"]

    def setup(self, case, dtype):
        sizes, self.batch = parse_case(case)
        self.net = make_network(sizes, dtype)
        self.X, self.Y, _ = make_data(sizes, n_samples_for(sizes), dtype)
        self.fit()

    def fit(self):
        return self.net.fit(self.X, self.Y, batch_size=self.batch, max_iter=1, random_state=0)

    def time_epoch(self, case, dtype):
        self.fit()


class Fit:
    """``MLPClassifier.fit`` / ``MLPRegressor.fit``: 5 epochs of adam, as a user calls it."""

    params = (["10-32-1@1", "64-128-10@64", "784-512-10@128"], DTYPES)
    param_names = ["network@batch", "dtype"]
    timeout = 300

    def setup(self, case, dtype):
        sizes, batch = parse_case(case)
        self.X, _, self.y = make_data(sizes, n_samples_for(sizes), dtype)
        cls = fastmlp.MLPRegressor if sizes[-1] == 1 else fastmlp.MLPClassifier
        self.est = cls(
            hidden_layer_sizes=sizes[1:-1],
            batch_size=batch,
            max_iter=5,
            tol=0.0,
            n_iter_no_change=1000,
            random_state=0,
        )
        self.fit()

    def fit(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return self.est.fit(self.X, self.y)

    def time_fit(self, case, dtype):
        self.fit()

    def peakmem_fit(self, case, dtype):
        self.fit()


class Predict:
    """Prediction throughput on 20 000 rows: ``Network.forward`` and ``MLPClassifier.predict``."""

    params = (["20-64-64-2", "64-128-10", "784-512-10"], DTYPES)
    param_names = ["network", "dtype"]

    def setup(self, network, dtype):
        sizes, _ = parse_case(network)
        self.net = make_network(sizes, dtype)
        self.X, _, y = make_data(sizes, 20_000, dtype)
        self.net.forward(self.X)
        self.clf = fastmlp.MLPClassifier(hidden_layer_sizes=sizes[1:-1], max_iter=1, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.clf.fit(self.X[:1000], y[:1000])
        self.clf.predict(self.X)

    def time_network_forward(self, network, dtype):
        self.net.forward(self.X)

    def time_classifier_predict(self, network, dtype):
        self.clf.predict(self.X)


class Throughput:
    """Achieved training GFLOP/s (6 x n_params x samples/s / 1e9) of ``Network.fit`` epochs,
    and the machine's GEMM rate (1024^3 numpy product) to read it against.

    A ``track_`` is called once per sample; each call times ~0.3 s of epochs and reports
    the best of 3, so a busy machine lowers it less than a single run would.
    """

    params = (
        [
            "64-128-10@64",
            "784-512-10@128",
            "784-256-128-10@128",
            "784-1024-1024-10@256",
            "256-1024-1024-10@256",
        ],
        DTYPES,
    )
    param_names = ["network@batch", "dtype"]
    unit = "GFLOP/s"
    timeout = 300

    def setup(self, case, dtype):
        sizes, self.batch = parse_case(case)
        self.flops = flops_per_sample(sizes)
        self.net = make_network(sizes, dtype)
        self.X, self.Y, _ = make_data(sizes, n_samples_for(sizes), dtype)
        self.net.fit(self.X, self.Y, batch_size=self.batch, max_iter=1, random_state=0)
        start = time.perf_counter()
        self.net.fit(self.X, self.Y, batch_size=self.batch, max_iter=1, random_state=0)
        epoch = time.perf_counter() - start
        self.epochs = max(1, int(np.ceil(0.3 / max(epoch, 1e-6))))

    def track_gflops(self, case, dtype):
        best = np.inf
        for _ in range(3):
            start = time.perf_counter()
            self.net.fit(
                self.X,
                self.Y,
                batch_size=self.batch,
                max_iter=self.epochs,
                tol=0.0,
                n_iter_no_change=10**6,
                random_state=0,
            )
            best = min(best, time.perf_counter() - start)
        samples_per_s = self.epochs * self.X.shape[0] / best
        return self.flops * samples_per_s / 1e9


class GemmRate:
    """This machine's GEMM rate: 2 x 1024^3 / time of a 1024x1024 numpy product (best of 7)."""

    params = [DTYPES]
    param_names = ["dtype"]
    unit = "GFLOP/s"

    def setup(self, dtype):
        rng = np.random.RandomState(0)
        self.A = rng.standard_normal((1024, 1024)).astype(dtype)
        self.B = rng.standard_normal((1024, 1024)).astype(dtype)
        self.A @ self.B

    def track_gemm(self, dtype):
        best = np.inf
        for _ in range(7):
            start = time.perf_counter()
            self.A @ self.B
            best = min(best, time.perf_counter() - start)
        return 2 * 1024**3 / best / 1e9
