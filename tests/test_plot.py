"""fastmlp.plot.history: the panels drawn and the data on them, headless (Agg)."""

import subprocess
import sys
import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning, NotFittedError

import fastmlp
from fastmlp import MLPClassifier, MLPRegressor, Network
from fastmlp.training import History

matplotlib = pytest.importorskip(
    "matplotlib", reason="fastmlp.plot needs matplotlib (pip install fastmlp[plot])"
)
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import fastmlp.plot  # noqa: E402

ALL_TITLES = [
    "Training loss",
    "Validation score",
    "Learning rate",
    "Gradient norm per layer",
    "Dead units per layer",
    "Update/weight ratio per layer",
]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


@pytest.fixture(scope="module")
def fitted(iris):
    X, y = iris
    est = MLPClassifier(
        hidden_layer_sizes=(8, 6),
        solver="sgd",
        learning_rate="cosine",
        learning_rate_init=0.05,
        lr_horizon=24,
        max_iter=12,
        early_stopping=True,
        n_iter_no_change=50,
        random_state=0,
        diagnostics=True,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y)


def _axes(fig):
    return {ax.get_title(): ax for ax in fig.axes}


def _lines(ax):
    return {line.get_label(): line for line in ax.get_lines()}


def _assert_line(line, values):
    assert_array_equal(line.get_xdata(), np.arange(1, len(values) + 1))
    assert_array_equal(line.get_ydata(), values)


def test_all_panels_hold_the_history_arrays(fitted):
    hist = fitted.history_
    fig = fastmlp.plot.history(fitted)
    assert isinstance(fig, matplotlib.figure.Figure)
    assert [ax.get_title() for ax in fig.axes] == ALL_TITLES
    axes = _axes(fig)
    for title, values in [
        ("Training loss", hist.loss),
        ("Validation score", hist.validation_score),
        ("Learning rate", hist.learning_rate),
    ]:
        (line,) = axes[title].get_lines()
        _assert_line(line, values)
    assert len(hist) == fitted.n_iter_ == 12
    assert_array_equal(hist.loss, fitted.loss_curve_)
    assert axes["Learning rate"].get_yscale() == "linear"  # half a cosine: 0.05 to 0.028
    assert axes["Training loss"].get_yscale() == "linear"  # 1.71 down to 0.99

    grads = _lines(axes["Gradient norm per layer"])
    assert list(grads) == ["layer 1", "layer 2", "output", "all"]
    for column, name in enumerate(["layer 1", "layer 2", "output"]):
        _assert_line(grads[name], hist.layer_grad_norms[:, column])
        _assert_line(
            _lines(axes["Update/weight ratio per layer"])[name], hist.update_ratio[:, column]
        )
    _assert_line(grads["all"], hist.grad_norm)
    assert axes["Gradient norm per layer"].get_yscale() == "log"
    assert axes["Update/weight ratio per layer"].get_yscale() == "log"

    dead = _lines(axes["Dead units per layer"])
    assert list(dead) == ["hidden 1", "hidden 2"]
    for column, name in enumerate(dead):
        _assert_line(dead[name], hist.dead_fraction[:, column])
    assert axes["Dead units per layer"].get_yscale() == "linear"
    assert fig._suptitle.get_text() == "MLPClassifier: training history"
    assert all(ax.get_xlabel() == "epoch" for ax in fig.axes)


def test_a_history_from_network_fit_and_a_history_object(iris):
    X, y = iris
    Y = np.eye(3)[y]
    net = Network(
        [4, 5, 3], activation="tanh", output_activation="softmax", loss="log_loss", random_state=0
    )
    hist = net.fit(X, Y, max_iter=5, learning_rate_init=0.01, early_stopping=True, diagnostics=True)
    fig = fastmlp.plot.history(hist)
    # tanh units are never "dead": that panel is left out; no estimator, no title
    assert [ax.get_title() for ax in fig.axes] == [t for t in ALL_TITLES if "Dead" not in t]
    _assert_line(_axes(fig)["Validation score"].get_lines()[0], hist.validation_score)
    assert fig._suptitle is None


def test_diagnostics_off_draws_loss_and_rate_only(iris):
    X, y = iris
    net = Network([4, 5, 3], output_activation="softmax", loss="log_loss", random_state=0)
    hist = net.fit(X, np.eye(3)[y], max_iter=4, diagnostics=False)
    assert len(hist.layer_grad_norms) == 0
    fig = fastmlp.plot.history(hist)
    assert [ax.get_title() for ax in fig.axes] == ["Training loss", "Learning rate"]
    _assert_line(fig.axes[0].get_lines()[0], hist.loss)


def test_lbfgs_history_has_the_loss_per_iteration(iris):
    X, y = iris
    est = MLPRegressor(hidden_layer_sizes=(5,), solver="lbfgs", max_iter=15, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    fig = fastmlp.plot.history(est)
    (ax,) = fig.axes
    assert ax.get_title() == "Training loss" and ax.get_xlabel() == "iteration"
    _assert_line(ax.get_lines()[0], est.history_.loss)
    assert len(est.history_.loss) == est.n_iter_


def test_a_decaying_rate_is_drawn_on_a_log_scale(iris):
    X, y = iris
    est = MLPClassifier(
        hidden_layer_sizes=(5,),
        solver="sgd",
        learning_rate="exponential",
        lr_gamma=0.5,
        max_iter=8,
        n_iter_no_change=50,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    ax = _axes(fastmlp.plot.history(est))["Learning rate"]
    assert ax.get_yscale() == "log"
    _assert_line(ax.get_lines()[0], 0.001 * 0.5 ** np.arange(8))


def test_draws_into_a_given_figure_and_clears_it(fitted):
    fig = plt.figure()
    fig.add_subplot().set_title("old")
    assert fastmlp.plot.history(fitted, fig=fig) is fig
    assert [ax.get_title() for ax in fig.axes] == ALL_TITLES


def test_a_diverged_fit_plots_its_nan_epoch(iris):
    X, y = iris
    est = MLPRegressor(
        hidden_layer_sizes=100,
        activation="identity",
        solver="sgd",
        learning_rate_init=1,
        max_iter=20,
        early_stopping=True,
        random_state=0,
        diagnostics=True,  # the gradient norm overflows: stops at the fifth epoch
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    axes = _axes(fastmlp.plot.history(est))
    ydata = axes["Validation score"].get_lines()[0].get_ydata()
    assert len(ydata) == 5 and np.isnan(ydata[-1]) and np.isfinite(ydata[:-1]).all()
    assert axes["Training loss"].get_yscale() == "log"  # 0.8 up to 1e68, then NaN


def test_bad_input(fitted):
    with pytest.raises(NotFittedError, match="fit it before plotting"):
        fastmlp.plot.history(MLPClassifier())
    with pytest.raises(TypeError, match="got list"):
        fastmlp.plot.history([1.0, 2.0])
    with pytest.raises(ValueError, match="no epoch"):
        fastmlp.plot.history(History())


def test_import_fastmlp_does_not_import_matplotlib():
    code = (
        "import sys, fastmlp\n"
        "assert 'matplotlib' not in sys.modules and 'fastmlp.plot' not in sys.modules\n"
        "assert callable(fastmlp.plot.history)\n"
        "assert 'matplotlib' not in sys.modules  # only drawing imports it\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "ok", result.stderr
