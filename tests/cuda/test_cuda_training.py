"""Training on the CUDA target against the CPU target, step by step.

Same network, data and seeds on both targets; dropout off, float64: every epoch's
parameters, loss and diagnostics agree within 1e-10 relative. 9 samples in batches of 4
give two full minibatches and a short last one per epoch.
"""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import fastmlp
from fastmlp.training import DivergenceError

pytest.importorskip("numba.cuda", reason="needs the numba-cuda package")

SIZES = [3, 6, 5, 2]
ROWS, BATCH = 9, 4


def networks(dtype="float64", **kwargs):
    settings = dict(
        activation="relu", output_activation="softmax", loss="log_loss", dtype=dtype, random_state=0
    )
    settings.update(kwargs)
    return (
        fastmlp.Network(SIZES, device="cuda", **settings),
        fastmlp.Network(SIZES, device="cpu", **settings),
    )


def data(seed=0, rows=ROWS):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, SIZES[0]))
    Y = np.eye(SIZES[-1])[rng.integers(0, SIZES[-1], rows)]
    return X, Y, rng.uniform(0.5, 2.0, rows)


def fit_both(gpu, cpu_net, X, Y, epochs, **fit):
    """Fit one epoch at a time on both targets, every diagnostic recorded; compare after
    every epoch."""
    fit = dict(batch_size=BATCH, max_iter=1, learning_rate_init=0.05, diagnostics=True, **fit)
    history = []
    for epoch in range(epochs):
        h_gpu = gpu.fit(X, Y, random_state=epoch, **fit)
        h_cpu = cpu_net.fit(X, Y, random_state=epoch, **fit)
        np.testing.assert_allclose(gpu.params, cpu_net.params, rtol=1e-10, atol=1e-13)
        for name in (
            "loss",
            "grad_norm",
            "layer_grad_norms",
            "dead_fraction",
            "update_ratio",
            "learning_rate",
        ):
            np.testing.assert_allclose(
                getattr(h_gpu, name), getattr(h_cpu, name), rtol=1e-10, atol=1e-13, err_msg=name
            )
        history.append(h_gpu)
    return history


@pytest.mark.parametrize("solver", ["sgd", "adam", "adamw", "adagrad", "rmsprop"])
def test_fit_matches_cpu_each_optimizer(solver):
    gpu, cpu_net = networks()
    X, Y, _ = data()
    history = fit_both(gpu, cpu_net, X, Y, epochs=2, solver=solver)
    assert np.isfinite(history[-1].loss).all()
    assert gpu.device == "cuda" and isinstance(gpu.params, np.ndarray)


def test_fit_with_regularisers_clipping_weights_and_schedule():
    """L2, L1, clipping (active: a small max_grad_norm), sample weights, a schedule."""
    gpu, cpu_net = networks(activation="tanh")
    X, Y, sw = data(1)
    history = fit_both(
        gpu,
        cpu_net,
        X,
        Y,
        epochs=2,
        solver="sgd",
        sample_weight=sw,
        alpha=0.1,
        l1=0.01,
        max_grad_norm=0.05,
        learning_rate="invscaling",
    )
    assert history[0].grad_norm[0] > 0.05  # the clipping was active


def test_clipping_without_diagnostics_matches_cpu():
    # Clipping alone: the gradient norm is computed, the other diagnostics are not.
    gpu, cpu_net = networks(activation="tanh")
    X, Y, _ = data(1)
    fit = dict(batch_size=BATCH, max_iter=2, random_state=0, max_grad_norm=0.05)
    h_gpu, h_cpu = gpu.fit(X, Y, **fit), cpu_net.fit(X, Y, **fit)
    np.testing.assert_allclose(gpu.params, cpu_net.params, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(h_gpu.loss, h_cpu.loss, rtol=1e-10)
    assert h_gpu.grad_norm.size == h_gpu.dead_fraction.size == 0


def test_fit_float32_within_round_off():
    gpu, cpu_net = networks("float32")
    X, Y, _ = data(2)
    for epoch in range(2):
        h_gpu = gpu.fit(X, Y, batch_size=BATCH, max_iter=1, random_state=epoch)
        h_cpu = cpu_net.fit(X, Y, batch_size=BATCH, max_iter=1, random_state=epoch)
    assert gpu.params.dtype == np.float32
    np.testing.assert_allclose(gpu.params, cpu_net.params, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(h_gpu.loss, h_cpu.loss, rtol=1e-5)


def test_early_stopping_matches_cpu():
    gpu, cpu_net = networks()
    X, Y, _ = data(3, rows=12)
    fit = dict(
        batch_size=BATCH,
        max_iter=3,
        early_stopping=True,
        validation_fraction=0.25,
        random_state=0,
        learning_rate_init=0.05,
    )
    h_gpu, h_cpu = gpu.fit(X, Y, **fit), cpu_net.fit(X, Y, **fit)
    np.testing.assert_allclose(h_gpu.validation_score, h_cpu.validation_score, rtol=1e-10)
    np.testing.assert_allclose(gpu.params, cpu_net.params, rtol=1e-10, atol=1e-13)


def test_divergence_keeps_last_finite_weights():
    gpu, cpu_net = networks(
        activation="identity", output_activation="identity", loss="squared_error"
    )
    X, Y, _ = data(4)
    X = X * 1e3
    fit = dict(
        solver="sgd",
        learning_rate_init=1e3,
        momentum=0.0,
        batch_size=BATCH,
        max_iter=5,
        random_state=0,
    )
    with pytest.raises(DivergenceError):
        gpu.fit(X, Y, **fit)
    with pytest.raises(DivergenceError):
        cpu_net.fit(X, Y, **fit)
    assert np.isfinite(gpu.params).all()
    np.testing.assert_allclose(gpu.params, cpu_net.params, rtol=1e-10)


def test_dropout_trains_and_prediction_does_not_drop():
    gpu, _ = networks()
    X, Y, _ = data(5)
    history = gpu.fit(X, Y, batch_size=BATCH, max_iter=2, dropout=0.5, random_state=0)
    assert np.isfinite(history.loss).all()
    np.testing.assert_array_equal(gpu.forward(X), gpu.forward(X))
    reference = fastmlp.Network(
        SIZES, activation="relu", output_activation="softmax", loss="log_loss", random_state=0
    )
    reference.params[:] = gpu.params
    np.testing.assert_allclose(gpu.forward(X), reference.forward(X), rtol=1e-12)


def test_move_between_devices_and_pickle_without_device():
    gpu, cpu_net = networks()
    before = gpu.params.copy()
    assert gpu.to("cpu") is gpu and gpu.device == "cpu"
    np.testing.assert_array_equal(gpu.params, before)
    gpu.to("cuda")
    np.testing.assert_array_equal(gpu.params, before)
    loaded = pickle.loads(pickle.dumps(gpu))
    assert loaded.device == "cpu"
    X, _, _ = data(6)
    np.testing.assert_allclose(loaded.forward(X), gpu.forward(X), rtol=1e-12)


def test_classifier_on_cuda_matches_cpu():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(ROWS, 3))
    y = rng.integers(0, 3, ROWS)
    settings = dict(
        hidden_layer_sizes=(5,),
        batch_size=BATCH,
        max_iter=2,
        random_state=0,
        learning_rate_init=0.05,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gpu = fastmlp.MLPClassifier(device="cuda", **settings).fit(X, y)
        cpu_clf = fastmlp.MLPClassifier(**settings).fit(X, y)
    assert gpu._net.device == "cuda"
    np.testing.assert_allclose(gpu.predict_proba(X), cpu_clf.predict_proba(X), rtol=1e-10)
    np.testing.assert_array_equal(gpu.predict(X), cpu_clf.predict(X))
    np.testing.assert_allclose(gpu.loss_curve_, cpu_clf.loss_curve_, rtol=1e-10)


def test_estimator_pickles_and_keeps_training_across_devices():
    """A GPU-fitted estimator pickles (its optimizer state as host arrays), predicts after
    loading, and partial_fit continues on either device as on the CPU."""
    rng = np.random.default_rng(8)
    X = rng.normal(size=(ROWS, 3))
    y = rng.normal(size=ROWS)
    settings = dict(
        hidden_layer_sizes=(5,), batch_size=BATCH, random_state=0, learning_rate_init=0.05
    )
    gpu = fastmlp.MLPRegressor(device="cuda", **settings).partial_fit(X, y)
    cpu_reg = fastmlp.MLPRegressor(**settings).partial_fit(X, y)
    loaded = pickle.loads(pickle.dumps(gpu))
    assert loaded._net.device == "cpu"  # the pickle records no device
    np.testing.assert_allclose(loaded.predict(X), gpu.predict(X), rtol=1e-12)
    loaded.partial_fit(X, y)  # back on the GPU: est.device is "cuda"
    moved = pickle.loads(pickle.dumps(gpu)).set_params(device="cpu").partial_fit(X, y)
    cpu_reg.partial_fit(X, y)
    assert loaded._net.device == "cuda" and moved._net.device == "cpu"
    np.testing.assert_allclose(loaded.coefs_[0], cpu_reg.coefs_[0], rtol=1e-10)
    np.testing.assert_allclose(moved.coefs_[0], cpu_reg.coefs_[0], rtol=1e-10)


def test_saved_gpu_model_loads_and_predicts_on_the_cpu(tmp_path):
    rng = np.random.default_rng(9)
    X, y = rng.normal(size=(ROWS, 3)), rng.normal(size=ROWS)
    gpu = fastmlp.MLPRegressor(
        hidden_layer_sizes=(5,), batch_size=BATCH, random_state=0, device="cuda"
    ).partial_fit(X, y)
    expected = gpu.predict(X)
    gpu.save(tmp_path / "model")
    loaded = fastmlp.load(tmp_path / "model")
    assert loaded._net.device == "cpu"
    np.testing.assert_allclose(loaded.predict(X), expected, rtol=1e-12)
    np.testing.assert_allclose(loaded._optimizer.state.state1, gpu._optimizer.state.state1)
