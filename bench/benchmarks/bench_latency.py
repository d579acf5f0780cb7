"""Where users feel speed: one-row prediction latency, a minibatch's partial_fit, bulk
prediction against the GEMM rate, and two fits in two threads (the kernels release the GIL).

float32 throughout, as in the performance targets; every class compiles (or loads from
Numba's cache) in ``setup``.
"""

import threading
import time
import warnings

import numpy as np
from numba import njit
from sklearn.exceptions import ConvergenceWarning

import fastmlp

from .common import make_data, make_network, n_params, parse_case


def _fitted_classifier(sizes, X, y):
    clf = fastmlp.MLPClassifier(hidden_layer_sizes=sizes[1:-1], max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return clf.fit(X[:1000], y[:1000])


class OneRow:
    """Latency of one row through ``predict_proba``, ``predict`` and ``Network.forward``."""

    params = [["64-64-64-10", "20-64-64-2"]]
    param_names = ["network"]

    def setup(self, network):
        sizes, _ = parse_case(network)
        X, _, y = make_data(sizes, 1000, "float32")
        self.net = make_network(sizes, "float32")
        self.clf = _fitted_classifier(sizes, X, y)
        self.row = X[:1].copy()
        self.net.forward(self.row)
        self.clf.predict(self.row)
        self.clf.predict_proba(self.row)

    def time_predict_proba(self, network):
        self.clf.predict_proba(self.row)

    def time_predict(self, network):
        self.clf.predict(self.row)

    def time_network_forward(self, network):
        self.net.forward(self.row)


class PartialFit:
    """One ``partial_fit`` call on a minibatch: mostly the fixed cost of a call (input
    and label checks, the per-call set-up), which streaming training pays per batch."""

    params = [["20-64-64-2@16"]]
    param_names = ["network@batch"]

    def setup(self, case):
        sizes, batch = parse_case(case)
        X, _, y = make_data(sizes, batch, "float32")
        self.X, self.y = X, y
        self.clf = fastmlp.MLPClassifier(hidden_layer_sizes=sizes[1:-1], random_state=0)
        self.clf.partial_fit(X, y, classes=np.unique(y))

    def time_partial_fit(self, case):
        self.clf.partial_fit(self.X, self.y)


class BulkPredict:
    """``predict_proba`` of 100k rows as a fraction of the float32 GEMM rate
    (2 x weights FLOPs a row over a 1024^3 NumPy product's rate, measured alongside)."""

    params = [["784-256-128-10"]]
    param_names = ["network"]
    rows = 100_000
    timeout = 300

    def setup(self, network):
        self.sizes, _ = parse_case(network)
        self.X, _, y = make_data(self.sizes, self.rows, "float32")
        self.clf = _fitted_classifier(self.sizes, self.X, y)
        self.clf.predict_proba(self.X[:10])

    def time_predict_proba(self, network):
        self.clf.predict_proba(self.X)

    def track_sgemm_fraction(self, network):
        seconds = min(_timed(lambda: self.clf.predict_proba(self.X)) for _ in range(3))
        flops = 2 * n_params(self.sizes) * self.rows
        return flops / seconds / _gemm_rate()

    track_sgemm_fraction.unit = "fraction"


class TwoThreads:
    """Two 20-64-64-2 fits at batch 16: serial time over the time in two threads (2.0 is
    perfect on two cores; the kernels must release the GIL for anything above 1).

    Fits of 5 epochs of 4096 rows last ~8 ms, where two things outside the kernels weigh:
    the fits' Python set-up (~1 ms each, holding the GIL) and the start of the burst (on
    the Zen 5 of issue 12 one thread's kernels ran ~25% slower for the first ~10 ms of
    two, never in a sustained run). 20 epochs (~30 ms a fit) is what a model search's fits
    look like; both are tracked (docs/benchmarks.md, "Two fits in two threads").
    """

    params = [["20-64-64-2@16"], [5, 20]]
    param_names = ["network@batch", "epochs"]
    timeout = 300

    def setup(self, case, epochs):
        self.sizes, self.batch = parse_case(case)
        self.epochs = epochs
        self.X, self.Y, _ = make_data(self.sizes, 4096, "float32")
        self.fit()
        _scale_in_place(np.zeros(1, np.float32), 1)  # compile

    def fit(self):
        net = make_network(self.sizes, "float32")
        net.fit(
            self.X,
            self.Y,
            batch_size=self.batch,
            max_iter=self.epochs,
            tol=0.0,
            n_iter_no_change=1000,
            random_state=0,
        )

    def track_thread_speedup(self, case, epochs):
        serial = min(_timed(lambda: (self.fit(), self.fit())) for _ in range(3))
        threaded = min(_timed(self._two_threads) for _ in range(3))
        return serial / threaded

    track_thread_speedup.unit = "x"

    def track_compute_ceiling(self, case, epochs):
        """The same ratio for a kernel that only computes (no Python, no shared lines):
        what two threads give on this machine at all, to read the fits' speedup against."""
        a, b = (fastmlp.backend.aligned_zeros(16384, np.float32) for _ in range(2))
        reps = _repeats_for(lambda n: _scale_in_place(a, n), seconds=self._serial_fit_time())
        serial = min(
            _timed(lambda: (_scale_in_place(a, reps), _scale_in_place(b, reps))) for _ in range(3)
        )
        threaded = min(
            _timed(lambda: _in_two_threads(_scale_in_place, (a, reps), (b, reps))) for _ in range(3)
        )
        return serial / threaded

    track_compute_ceiling.unit = "x"

    def _serial_fit_time(self):
        return min(_timed(self.fit) for _ in range(3))

    def _two_threads(self):
        _in_two_threads(self.fit, (), ())


def _in_two_threads(fn, args_1, args_2):
    threads = [threading.Thread(target=fn, args=args) for args in (args_1, args_2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


@njit(nogil=True, fastmath=True)
def _scale_in_place(a, reps):
    """``reps`` vectorised passes over ``a`` (64 KB: in L2), all arithmetic; ``a`` owns its
    cache lines, or two threads would steal the line a neighbour shares (measured: 0.9x)."""
    for _ in range(reps):
        for i in range(a.size):
            a[i] = a[i] * np.float32(0.999) + np.float32(0.001)


def _repeats_for(run, seconds):
    """How many repeats make ``run(repeats)`` last at least ``seconds``."""
    reps = 1
    while _timed(lambda: run(reps)) < seconds:
        reps *= 2
    return reps


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _gemm_rate():
    a = np.random.RandomState(0).standard_normal((1024, 1024)).astype(np.float32)
    a @ a
    return 2 * 1024**3 / min(_timed(lambda: a @ a) for _ in range(5))
