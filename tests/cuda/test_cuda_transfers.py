"""What crosses between host and device during a fit on the CUDA target.

The parameters cross to the device when a fit starts and come back when it ends; per
epoch only short vectors do (the sample order, the hyperparameters, the step count, the
statistics and diagnostics), however many minibatches the epoch has. Counted in Numba's
simulator by wrapping its copy functions (transfers.py).
"""

import os
import warnings

import numpy as np
import pytest

import fastmlp
from fastmlp import backend, training
from fastmlp.kernels import layout

pytest.importorskip("numba.cuda", reason="needs the numba-cuda package")
if os.environ.get("NUMBA_ENABLE_CUDASIM", "") != "1":
    pytest.skip("counts the simulator's copies", allow_module_level=True)

from transfers import count_transfers  # noqa: E402

SIZES = [3, 6, 5, 2]
ROWS = 9


def network(device="cuda", **kwargs):
    settings = dict(activation="relu", output_activation="softmax", loss="log_loss")
    settings.update(kwargs)
    return fastmlp.Network(SIZES, dtype="float64", random_state=0, device=device, **settings)


def data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(ROWS, SIZES[0]))
    return X, np.eye(SIZES[-1])[rng.integers(0, SIZES[-1], ROWS)]


def per_epoch(monkeypatch, net, X, Y, **fit):
    """Fit ``net``; return each epoch's host <-> device copies (from the start of one
    epoch to the start of the next, so the epoch's bookkeeping counts, the last one up to
    the end of the fit's session) and all of them."""
    starts, closed = [], []
    run, close = training._EpochRunner.run, backend.DeviceSession.close

    def marked(runner):
        starts.append(len(log))
        return run(runner)

    def closing(session):
        closed.append(len(log))
        return close(session)

    monkeypatch.setattr(training._EpochRunner, "run", marked)
    monkeypatch.setattr(backend.DeviceSession, "close", closing)
    with count_transfers(monkeypatch) as transfers:
        log = transfers.log
        net.fit(X, Y, **fit)
        ends = starts[1:] + closed
        epochs = [
            [entry for entry in log[a:b] if entry[0] != "device_to_device"]
            for a, b in zip(starts, ends)
        ]
    return epochs, transfers


def test_an_epoch_moves_a_few_short_vectors_whatever_its_batch_count(monkeypatch):
    X, Y = data()
    fit = dict(solver="adam", max_iter=2, learning_rate_init=0.05, random_state=0)
    net = network()
    three_batches, transfers = per_epoch(monkeypatch, net, X, Y, batch_size=4, **fit)
    one_batch, _ = per_epoch(monkeypatch, network(), X, Y, batch_size=ROWS, **fit)
    param_bytes = net.params.nbytes
    # The second epoch (the first also uploads the update ratios' run table, once a fit).
    second = three_batches[1]
    assert second == one_batch[1]  # the same copies, whatever the number of minibatches
    assert len(second) <= 8
    assert all(size < param_bytes for _, size in second)
    assert sum(size for _, size in second) < param_bytes
    # The sample order is one of them (it follows the host's random stream).
    assert ("copy_to_device", 8 * ROWS) in second
    # The parameters: copied in once, copied back once (into net.params), at the end;
    # adam's moments start as zeros on the device.
    assert transfers.of_kind("to_device").count(param_bytes) == 1
    assert transfers.log[-1] == ("copy_to_host", param_bytes)
    assert transfers.of_kind("copy_to_host").count(param_bytes) == 1
    # The snapshot before each epoch is a copy within the device.
    assert transfers.of_kind("device_to_device") == [param_bytes, param_bytes]


def test_kernel_launches_of_an_epoch_take_no_host_array(monkeypatch):
    """A NumPy array passed to a kernel is copied in and out around every launch."""
    X, Y = data(1)
    epochs, transfers = per_epoch(
        monkeypatch,
        network(),
        X,
        Y,
        batch_size=5,
        max_iter=1,
        alpha=0.1,
        max_grad_norm=1.0,
        dropout=0.2,
        random_state=0,
    )
    assert transfers.of_kind("kernel_argument") == []


def test_dropout_generators_are_seeded_once_a_fit(monkeypatch):
    X, Y = data(2)
    epochs, _ = per_epoch(
        monkeypatch, network(), X, Y, batch_size=ROWS, max_iter=3, dropout=0.3, random_state=0
    )
    assert epochs[1] == epochs[2]
    assert len(epochs[0]) > len(epochs[1])  # the generators' states crossed in the first


def test_divergence_restores_the_last_finite_parameters_on_the_device(monkeypatch):
    """The rollback copies the snapshot back within the device; net.params is then the
    parameters before the diverging epoch."""
    net = network(activation="identity", output_activation="identity", loss="squared_error")
    X, Y = data(4)
    snapshots = []
    snapshot = backend.DeviceSession.snapshot

    def recorded(session):
        snapshot(session)
        snapshots.append(session.model().params.copy_to_host())

    monkeypatch.setattr(backend.DeviceSession, "snapshot", recorded)
    with pytest.raises(training.DivergenceError):
        net.fit(
            X * 1e3,
            Y,
            solver="sgd",
            learning_rate_init=1e3,
            momentum=0.0,
            batch_size=4,
            max_iter=5,
            random_state=0,
        )
    assert len(snapshots) >= 1
    assert np.isfinite(net.params).all()
    np.testing.assert_array_equal(net.params, snapshots[-1])


def test_an_update_that_leaves_a_parameter_non_finite_flags_the_epoch():
    """The loss and gradient checks cannot see the last update of an epoch: the epoch
    ends with a pass over the parameters."""
    from numba import cuda

    from fastmlp.kernels.cuda import jit, train

    params = np.zeros(70)
    params[67] = np.inf
    stats = cuda.to_device(np.zeros(layout.N_STATS))
    train.flag_non_finite[2, jit.THREADS](cuda.to_device(params), stats)
    assert stats.copy_to_host()[layout.STAT_DIVERGED] == 1.0
    stats = cuda.to_device(np.zeros(layout.N_STATS))
    train.flag_non_finite[2, jit.THREADS](cuda.to_device(np.ones(70)), stats)
    assert stats.copy_to_host()[layout.STAT_DIVERGED] == 0.0


def test_interrupted_fit_leaves_the_trained_parameters_in_net_params(monkeypatch):
    """Ctrl-C between epochs: net.params holds the device's parameters after the epochs
    that ran, as on the CPU."""
    X, Y = data(5)
    run = training._EpochRunner.run
    calls = []

    def interrupted_in_third_epoch(runner):
        calls.append(1)
        if len(calls) % 3 == 0:
            raise KeyboardInterrupt
        return run(runner)

    monkeypatch.setattr(training._EpochRunner, "run", interrupted_in_third_epoch)
    fit = dict(batch_size=5, max_iter=5, learning_rate_init=0.05, random_state=0)
    gpu, cpu_net = network(), network("cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        h_gpu = gpu.fit(X, Y, **fit)
        h_cpu = cpu_net.fit(X, Y, **fit)
    assert len(h_gpu) == len(h_cpu) == 2
    np.testing.assert_allclose(gpu.params, cpu_net.params, rtol=1e-10, atol=1e-13)
