"""Concurrent use from threads: results equal serial runs, the garbage collector is left as found.

Each call allocates its own workspaces (``Network.forward`` and ``loss_and_grad`` per call,
``backend.EpochBuffers`` per fit), so threads share only what they read: the fitted
parameters when predicting.
"""

import gc
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from fastmlp import MLPClassifier, MLPRegressor, backend

N_THREADS = 8


def _problem(seed, n=300, n_features=6):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, n_features))
    y = (X[:, 0] + X[:, 1] ** 2 > 1).astype(int) + (X[:, 2] > 0.5)
    return X, y


def _estimators():
    """Eight different settings (solver, dtype, depth, task), so a mix-up between threads shows."""
    made = []
    for i in range(N_THREADS):
        options = dict(
            hidden_layer_sizes=(8 + i,) * (1 + i % 3),
            random_state=i,
            max_iter=15,
            solver=["adam", "sgd", "adamw", "rmsprop"][i % 4],
            batch_size=16 + 8 * i,
        )
        est = MLPClassifier(**options) if i % 2 == 0 else MLPRegressor(**options)
        X, y = _problem(i)
        dtype = np.float32 if i % 4 < 2 else np.float64
        made.append((est, X.astype(dtype), y if i % 2 == 0 else y.astype(float)))
    return made


def _fit_all(jobs, barrier=None):
    def fit(job):
        est, X, y = job
        if barrier is not None:
            barrier.wait(timeout=60)  # start all fits at once
        return est.fit(X, y)

    if barrier is None:
        return [fit(job) for job in jobs]
    with ThreadPoolExecutor(N_THREADS) as pool:
        return list(pool.map(fit, jobs))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("gc_enabled", [True, False])
def test_estimators_fitted_in_eight_threads_equal_serial_fits(gc_enabled):
    serial = _fit_all(_estimators())
    was = gc.isenabled()
    try:
        gc.enable() if gc_enabled else gc.disable()
        threaded = _fit_all(_estimators(), threading.Barrier(N_THREADS))
        assert gc.isenabled() is gc_enabled
    finally:
        gc.enable() if was else gc.disable()
    for a, b in zip(serial, threaded):
        assert a.n_iter_ == b.n_iter_
        assert a.loss_curve_ == b.loss_curve_
        for Wa, Wb in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
            assert_array_equal(Wa, Wb)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_estimator_predicting_from_eight_threads_equals_serial(dtype):
    X, y = _problem(0, n=2000)
    X = X.astype(dtype)
    clf = MLPClassifier(hidden_layer_sizes=(32, 16), max_iter=5, random_state=0).fit(X, y)
    # Different lengths: each thread's workspaces have their own size.
    chunks = [X[i * 200 : i * 200 + 100 + 37 * i] for i in range(N_THREADS)]
    expected = [clf.predict_proba(chunk) for chunk in chunks]
    barrier = threading.Barrier(N_THREADS)
    was = gc.isenabled()

    def predict_many(i):
        barrier.wait(timeout=60)
        return [clf.predict_proba(chunks[i]) for _ in range(25)]

    with ThreadPoolExecutor(N_THREADS) as pool:
        results = list(pool.map(predict_many, range(N_THREADS)))
    assert gc.isenabled() is was
    for want, got in zip(expected, results):
        for each in got:
            assert_array_equal(each, want)


def test_overlapping_kernel_calls_leave_the_collector_on(monkeypatch):
    """Thread B enters while thread A's kernel runs, and A leaves before B's kernel starts.

    Each call restoring the state it saw on entry leaves the collector off here: B saw it
    paused by A. The probe pauses B at that moment, after its look at the collector.
    """
    real_gc = gc
    a_inside, a_release, a_done = threading.Event(), threading.Event(), threading.Event()

    class Probe:
        """The ``gc`` module as run_kernel sees it, holding thread B right after its look."""

        disable = staticmethod(real_gc.disable)
        enable = staticmethod(real_gc.enable)

        @staticmethod
        def isenabled():
            state = real_gc.isenabled()
            if threading.current_thread().name == "B":
                a_release.set()
                a_done.wait(timeout=10)
            return state

    def kernel_a():
        a_inside.set()
        a_release.wait(timeout=10)

    def thread_a():
        backend.run_kernel(kernel_a)
        a_done.set()

    def thread_b():
        a_inside.wait(timeout=10)
        backend.run_kernel(a_release.set)

    was = gc.isenabled()
    monkeypatch.setattr(backend, "gc", Probe)
    try:
        gc.enable()
        threads = [
            threading.Thread(target=f, name=n) for f, n in [(thread_a, "A"), (thread_b, "B")]
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert not any(t.is_alive() for t in threads)
        assert gc.isenabled()
    finally:
        gc.enable() if was else gc.disable()
