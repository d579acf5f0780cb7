"""Ctrl-C during ``fit``: the estimator keeps the weights of the last completed epoch.

The interrupt comes from a timer thread (``_thread.interrupt_main``), as a user's Ctrl-C
would. Training holds it back until the running epoch is recorded, then stops: weights,
optimizer state and history all describe the last completed epoch, and ``partial_fit``
continues from there.
"""

import _thread
import signal
import threading
import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.base import clone

from fastmlp import MLPClassifier, MLPRegressor, training

# Long epochs (~10-50 ms) so that the interrupt lands after a few of them, and a max_iter
# far beyond what runs before it (yet finite: a lost interrupt fails, it does not hang).
N_SAMPLES, N_FEATURES = 4000, 40
SETTINGS = dict(
    hidden_layer_sizes=(128, 64),
    max_iter=2_000,
    tol=0.0,
    n_iter_no_change=np.inf,
    random_state=0,
    batch_size=32,
)


@pytest.fixture(autouse=True)
def python_handles_ctrl_c():
    """Python's own SIGINT handler, as in a terminal. A process a shell starts in the
    background without job control inherits SIGINT ignored, and Python then installs no
    handler: ``interrupt_main`` does nothing, and training rightly leaves SIGINT alone."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _data(seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(N_SAMPLES, N_FEATURES))
    y = (X[:, :3].sum(axis=1) > 0).astype(int)
    return X, y


def _interrupted_fit(est, X, y, delay, monkeypatch):
    """Fit with a Ctrl-C ``delay`` seconds after the first epoch starts; return the warnings.

    Timed from the first epoch, not from the call: an interrupt during the input checks
    before training stops the fit (and the test session) like any other Python code.
    """
    timer = threading.Timer(delay, _thread.interrupt_main)
    run = training._EpochRunner.run

    def run_and_start_the_timer(runner):
        if not timer.is_alive() and not timer.finished.is_set():
            timer.start()
        return run(runner)

    monkeypatch.setattr(training._EpochRunner, "run", run_and_start_the_timer)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            est.fit(X, y)
        finally:
            timer.cancel()
            if timer.is_alive():
                timer.join()
            monkeypatch.setattr(training._EpochRunner, "run", run)
    return [str(w.message) for w in caught]


def _assert_same_state(a, b):
    assert a.n_iter_ == b.n_iter_
    assert a.loss_curve_ == b.loss_curve_
    for Wa, Wb in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        assert_array_equal(Wa, Wb)


@pytest.mark.parametrize(
    "Estimator, solver, dtype",
    [
        (MLPClassifier, "adam", np.float64),
        (MLPClassifier, "sgd", np.float32),
        (MLPRegressor, "rmsprop", np.float64),
    ],
)
def test_interrupted_fit_keeps_the_last_completed_epoch(Estimator, solver, dtype, monkeypatch):
    X, y = _data()
    X = X.astype(dtype)
    y = y if Estimator is MLPClassifier else y.astype(float)
    est = Estimator(solver=solver, **SETTINGS)
    clone(est).set_params(max_iter=1).fit(X, y)  # compile outside the timed fit

    messages = _interrupted_fit(est, X, y, 0.3, monkeypatch)

    assert "Training interrupted by user." in messages
    epochs = est.n_iter_
    assert 1 <= epochs < SETTINGS["max_iter"]
    assert len(est.loss_curve_) == epochs
    assert np.all(np.isfinite(est.predict(X[:10]).astype(float)))

    # The same fit stopped cleanly after that many epochs: identical weights and history.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stopped = clone(est).set_params(max_iter=epochs).fit(X, y)
    _assert_same_state(est, stopped)

    # partial_fit continues from there, optimizer state included.
    est.partial_fit(X, y)
    stopped.partial_fit(X, y)
    _assert_same_state(est, stopped)
    assert len(est.loss_curve_) == epochs + 1


def test_interrupts_at_other_moments_each_keep_a_completed_epoch(monkeypatch):
    """Interrupted at other moments of an epoch (or in the first one: the initial weights)."""
    X, y = _data(1)
    est = MLPClassifier(solver="adam", **SETTINGS)
    clone(est).set_params(max_iter=1).fit(X, y)
    for delay in (0.0, 0.013, 0.13, 0.21):
        run = clone(est)
        _interrupted_fit(run, X, y, delay, monkeypatch)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        assert len(run.loss_curve_) == run.n_iter_
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stopped = clone(est).set_params(max_iter=max(run.n_iter_, 1)).fit(X, y)
        if run.n_iter_ > 0:
            _assert_same_state(run, stopped)


def test_a_fit_in_another_thread_leaves_the_interrupt_handler_alone():
    X, y = _data(2)
    handler = signal.getsignal(signal.SIGINT)
    seen = []
    est = MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0)

    def fit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X[:200], y[:200])
        seen.append(signal.getsignal(signal.SIGINT))

    thread = threading.Thread(target=fit)
    thread.start()
    thread.join(timeout=60)
    assert seen == [handler] and signal.getsignal(signal.SIGINT) is handler
    assert est.n_iter_ == 3
