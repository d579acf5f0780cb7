"""``fastmlp.check_gradients``: passes on real data in both dtypes, fails on planted bugs and
names them, skips finite differences that straddle a kink, samples by default."""

import numpy as np
import pytest
from sklearn.datasets import load_digits, make_regression
from sklearn.preprocessing import StandardScaler

import fastmlp
from fastmlp import Network, check_gradients


def _digits(dtype, scaled):
    X, y = load_digits(return_X_y=True)
    if scaled:
        X = StandardScaler().fit_transform(X)
    return X.astype(dtype), np.eye(10, dtype=dtype)[y]


def _readme_net(dtype):
    return Network(
        [64, 32, 10],
        activation="relu",
        output_activation="softmax",
        loss="log_loss",
        dtype=dtype,
        random_state=0,
    )


@pytest.mark.parametrize("scaled", [False, True], ids=["raw", "scaled"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_readme_example_passes(dtype, scaled):
    X, Y = _digits(dtype, scaled)
    result = check_gradients(_readme_net(dtype), X, Y)
    assert result.ok, result
    assert result.n_rows + result.clipped_rows == fastmlp.gradcheck.MAX_ROWS
    assert result.n_rows_total == len(X)
    assert result.n_finite_difference > 0
    assert str(result).startswith("GradientCheck: ok=True")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("activation", ["tanh", "logistic", "elu", "leaky_relu"])
def test_unscaled_regression_passes(dtype, activation):
    # Ordinary data at its natural scale (targets in the hundreds, features unscaled).
    X, y = make_regression(n_samples=300, n_features=12, noise=5.0, random_state=0)
    X = 10 * X
    net = Network([12, 16, 8, 1], activation=activation, dtype=dtype, random_state=1)
    assert check_gradients(net, X.astype(dtype), y[:, None].astype(dtype), alpha=0.1).ok


def _planted(net, change):
    """Make ``net.loss_and_grad`` return a gradient changed by ``change(grad)``."""
    honest = net.loss_and_grad

    def buggy(*args, **kwargs):
        loss, grad = honest(*args, **kwargs)
        grad = grad.copy()
        change(grad)
        return loss, grad

    net.loss_and_grad = buggy


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_one_perturbed_coordinate_is_found(dtype):
    X, Y = _digits(dtype, scaled=True)
    net = _readme_net(dtype)
    coefs = net.unpack(np.arange(net.n_params))["coefs"]
    k = int(coefs[1][7, 3])  # layer 1, weight (7, 3)

    def change(grad):
        grad[k] += 1e-3 * np.max(np.abs(grad))  # small, but far above round-off

    _planted(net, change)
    result = check_gradients(net, X, Y)
    assert not result.ok
    worst = result.worst_kernel[0]
    assert (worst.layer, worst.kind, worst.index, worst.flat_index) == (1, "weight", (7, 3), k)
    assert result.kernel_error_ratio > 1
    text = str(result)
    assert text.startswith("GradientCheck: ok=False")
    assert "layer 1 weight" in text and "Why it matters" in text


def test_sign_flipped_layer_is_named():
    X, Y = _digits("float32", scaled=False)
    net = _readme_net("float32")
    intercepts = net.unpack(np.arange(net.n_params))["intercepts"]
    first = intercepts[0].copy()

    def change(grad):
        grad[first] *= -1

    _planted(net, change)
    result = check_gradients(net, X, Y)
    assert not result.ok
    assert {c.layer for c in result.worst_kernel} == {0}
    assert {c.kind for c in result.worst_kernel} == {"intercept"}


def test_wrong_reference_is_caught_by_finite_differences(monkeypatch):
    X, Y = _digits("float64", scaled=True)
    honest = fastmlp.reference.loss_and_grad

    def wrong(*args, **kwargs):
        loss, gW, gb = honest(*args, **kwargs)
        return loss, [2 * g for g in gW], gb

    monkeypatch.setattr(fastmlp.reference, "loss_and_grad", wrong)
    result = check_gradients(_readme_net("float64"), X, Y)
    assert not result.ok
    assert result.finite_difference_error_ratio > 1
    assert "finite differences disagree" in str(result)


def test_kink_is_skipped_not_failed():
    # Put one row's pre-activation of hidden unit 2 within eps of the ReLU kink: the central
    # difference of that unit's intercept straddles it.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(20, 4))
    Y = rng.normal(size=(20, 1))
    net = Network([4, 5, 1], activation="relu", random_state=0)
    net.intercepts[0][2] = 0.0
    net.intercepts[0][2] = 3e-7 - (X[0] @ net.coefs[0][:, 2])
    if X[0] @ net.coefs[0][:, 2] + net.intercepts[0][2] <= 0:
        pytest.skip("the drawn row does not sit on the positive side")
    result = check_gradients(net, X, Y, full=True)
    assert result.ok, result
    skipped = {(c.layer, c.kind, c.index) for c in result.skipped}
    assert (0, "intercept", (2,)) in skipped
    assert "straddles a kink" in str(result)


def test_clipped_rows_are_left_out_of_finite_differences():
    X, Y = _digits("float64", scaled=False)
    net = _readme_net("float64")
    net.coefs[1][...] *= 5  # saturated softmax: some true-class probabilities below eps
    result = check_gradients(net, X, Y)
    assert result.clipped_rows > 0
    assert result.ok, result


def test_sampling_is_seeded_and_spans_every_block():
    rng = np.random.RandomState(0)
    X, Y = rng.normal(size=(600, 30)), rng.normal(size=(600, 2))
    net = Network([30, 40, 20, 2], activation="tanh", random_state=0)
    a = check_gradients(net, X, Y, random_state=3, max_coordinates=60, max_rows=100)
    b = check_gradients(net, X, Y, random_state=3, max_coordinates=60, max_rows=100)
    assert a.ok and a.n_rows == 100 and a.n_finite_difference <= 60
    assert a.reference_vs_finite_differences == b.reference_vs_finite_differences
    full = check_gradients(net, X[:50], Y[:50], full=True)
    assert full.ok and full.n_finite_difference == net.n_params and full.n_rows == 50


def test_progress_goes_to_stderr(capsys):
    rng = np.random.RandomState(0)
    X, Y = rng.normal(size=(30, 3)), rng.normal(size=(30, 1))
    check_gradients(Network([3, 4, 1], random_state=0), X, Y, progress=True)
    captured = capsys.readouterr()
    assert "finite differences" in captured.err and captured.out == ""


def test_mismatched_lengths_are_a_clear_error():
    rng = np.random.RandomState(0)
    X, Y = rng.normal(size=(10, 3)), rng.normal(size=(9, 1))
    net = Network([3, 4, 1], random_state=0)
    with pytest.raises(ValueError, match="10 rows but Y has 9"):
        check_gradients(net, X, Y)
    with pytest.raises(ValueError, match="sample_weight"):
        check_gradients(net, X, Y[:1].repeat(10, axis=0), sample_weight=np.ones(3))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "extras",
    [dict(batch_norm=True), dict(activation="prelu"), dict(batch_norm=True, activation="prelu")],
    ids=["batch_norm", "prelu", "both"],
)
def test_batch_norm_and_prelu_networks_check_every_block(dtype, extras):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X, Y = (X / 16)[:300], np.eye(10)[y[:300]]
    net = fastmlp.Network(
        [64, 16, 12, 10],
        output_activation="softmax",
        loss="log_loss",
        dtype=dtype,
        random_state=0,
        **extras,
    )
    net.fit(X.astype(dtype), Y.astype(dtype), max_iter=2, batch_size=50, random_state=0)
    result = fastmlp.check_gradients(net, X, Y, alpha=1e-3, max_coordinates=60)
    assert result.ok, str(result)
    kinds = {c.kind for c in result.worst_kernel} | {c.kind for c in result.worst_finite_difference}
    assert kinds  # coordinates were reported
    # A bug in one batch-norm scale or PReLU slope is caught and named.
    name, kind = ("gamma", "gamma") if "batch_norm" in extras else ("slopes", "slope")
    original = net.loss_and_grad

    def planted(*args, **kwargs):
        loss, grad = original(*args, **kwargs)
        grad = grad.copy()
        net.unpack(grad)[name][0][3] += 1e-2 * np.abs(grad).max()
        return loss, grad

    net.loss_and_grad = planted
    broken = fastmlp.check_gradients(net, X, Y, alpha=1e-3, max_coordinates=60)
    assert not broken.ok
    assert (broken.worst_kernel[0].layer, broken.worst_kernel[0].kind) == (0, kind)
    assert broken.worst_kernel[0].index == (3,)
