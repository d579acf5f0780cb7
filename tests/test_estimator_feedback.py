"""What the estimators tell while and after training: the progress bar, scikit-learn's
verbose lines, and scikit-learn's outcome of a diverging fit and of an unstratifiable split.
"""

import re
import warnings
from contextlib import redirect_stdout
from io import StringIO

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import neural_network as sk
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import InvalidParameterError

from fastmlp import MLPClassifier, MLPRegressor, training


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


# scikit-learn's own diverging fit (its test_mlp_diverging_loss): the fifth epoch's loss is
# finite (5.7e209) but its predictions overflow (NaN validation score); the sixth's loss is NaN.
# With the gradient norm computed (diagnostics=True or clipping), the norm overflows first and
# the fit stops in the fifth epoch.
DIVERGING = dict(
    hidden_layer_sizes=100,
    activation="identity",
    solver="sgd",
    learning_rate_init=1,
    max_iter=20,
    random_state=0,
)


def _quiet_fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)  # scikit-learn's overflow in matmul
        return est.fit(X, y)


def _stdout_of_fit(est, X, y):
    out = StringIO()
    with redirect_stdout(out):
        _quiet_fit(est, X, y)
    return out.getvalue()


# ---- progress bar ---------------------------------------------------------------------
@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_progress_bar_is_an_extra_off_by_default(Estimator):
    assert Estimator().get_params()["progress_bar"] is False
    assert Estimator(progress_bar=True).get_params()["progress_bar"] is True
    with pytest.raises(InvalidParameterError, match="progress_bar"):
        Estimator(progress_bar="yes").fit([[0.0], [1.0]], [0, 1])
    assert "progress_bar : bool, default=False" in Estimator.__doc__


def test_progress_bar_draws_epoch_loss_validation_rate_and_eta(iris, capsys):
    X, y = iris
    est = MLPClassifier(
        hidden_layer_sizes=(5,),
        max_iter=8,
        early_stopping=True,
        n_iter_no_change=50,
        random_state=0,
        progress_bar=True,
    )
    _quiet_fit(est, X, y)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.endswith("\n")
    frames = captured.err.rstrip("\n").split("\r")[1:]
    assert len(frames) == est.n_iter_ == 8
    pattern = re.compile(
        r"\[[#.]{30}\] (\d)/8 epochs  loss (\S+)  val (\S+)  (\S+) samples/s  ETA (\S+) s$"
    )
    for epoch, frame in enumerate(frames, start=1):
        match = pattern.match(frame)
        assert match, frame
        assert int(match[1]) == epoch
        assert match[2] == f"{est.loss_curve_[epoch - 1]:.6f}"
        assert match[3] == f"{est.validation_scores_[epoch - 1]:.4f}"
        assert float(match[4]) > 0
    assert frames[-1].endswith("ETA 0.0 s")
    assert frames[3].startswith("[" + "#" * 15 + "." * 15 + "] 4/8")


def test_progress_bar_scores_each_epoch_once(iris, monkeypatch):
    X, y = iris
    calls = []
    score = MLPClassifier._score_with_function

    def counting(self, *args):
        calls.append(1)
        return score(self, *args)

    monkeypatch.setattr(MLPClassifier, "_score_with_function", counting)
    est = MLPClassifier(
        hidden_layer_sizes=(5,),
        max_iter=6,
        early_stopping=True,
        random_state=0,
        progress_bar=True,
    )
    _quiet_fit(est, X, y)
    assert len(calls) == est.n_iter_ == 6


def test_progress_bar_without_validation_and_off(iris, capsys):
    X, y = iris
    _quiet_fit(MLPRegressor(hidden_layer_sizes=(5,), max_iter=3, progress_bar=True), X, y)
    frames = capsys.readouterr().err.rstrip("\n").split("\r")[1:]
    assert len(frames) == 3 and all("val" not in f and "samples/s" in f for f in frames)
    _quiet_fit(MLPRegressor(hidden_layer_sizes=(5,), max_iter=3), X, y)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    "seconds, text", [(4.24, "4.2 s"), (59.94, "59.9 s"), (725, "12:05"), (3723, "1:02:03")]
)
def test_progress_bar_durations(seconds, text):
    assert training._ProgressBar._duration(seconds) == text


# ---- verbose: scikit-learn's lines ----------------------------------------------------
@pytest.mark.parametrize(
    "params",
    [
        dict(
            solver="sgd",
            learning_rate="adaptive",
            early_stopping=True,
            max_iter=60,
            n_iter_no_change=3,
            tol=0.05,
        ),
        dict(solver="adam", max_iter=15, tol=0.05, n_iter_no_change=2),
        dict(solver="sgd", max_iter=4),
    ],
    ids=["adaptive-early-stopping", "adam-stops", "max-iter"],
)
def test_verbose_prints_scikit_learns_lines(iris, params):
    X, y = iris
    kw = dict(hidden_layer_sizes=(5,), random_state=0, verbose=True, **params)
    ours = _stdout_of_fit(MLPClassifier(**kw), X, y)
    theirs = _stdout_of_fit(sk.MLPClassifier(**kw), X, y)
    assert "Iteration 1, loss = " in ours
    assert ours == theirs


def test_verbose_lines_of_a_diverging_fit(iris):
    X, y = iris
    kw = dict(DIVERGING, max_iter=8, early_stopping=True, verbose=True)
    ours = _stdout_of_fit(MLPRegressor(**kw), X, y).splitlines()
    theirs = _stdout_of_fit(sk.MLPRegressor(**kw), X, y).splitlines()
    # scikit-learn goes on printing NaN epochs to max_iter; fastmlp stops at the first.
    assert ours[-2:] == ["Iteration 6, loss = nan", "Validation score: nan"]

    def labels(lines):
        return [re.split(r" = |: ", line)[0] for line in lines]

    assert labels(ours) == labels(theirs[:12])
    assert theirs[-1] == "Validation score: nan"


# ---- a diverging fit ------------------------------------------------------------------
def test_diverging_fit_with_early_stopping_ends_as_scikit_learns(iris):
    X, y = iris
    est = MLPRegressor(**DIVERGING, early_stopping=True)
    with pytest.warns(ConvergenceWarning, match="diverged in epoch 6.*best validation score"):
        est.fit(X, y)
    ref = _quiet_fit(sk.MLPRegressor(**DIVERGING, early_stopping=True), X, y)

    # scikit-learn's test_mlp_diverging_loss asserts exactly this
    assert str(est.validation_scores_[-1]) == str(np.nan)
    assert isinstance(est.validation_scores_[-1], float)
    # the same scores until the divergence, then NaN; scikit-learn trains on to max_iter
    assert_allclose(est.validation_scores_[:5], ref.validation_scores_[:5], rtol=1e-9)
    assert_allclose(est.loss_curve_[:5], ref.loss_curve_[:5], rtol=1e-9)
    assert np.isnan(ref.validation_scores_[4]) and len(est.validation_scores_) == 6
    assert est.n_iter_ == len(est.loss_curve_) == 6 and np.isnan(est.loss_)
    assert est.best_validation_score_ == est.validation_scores_[0]
    assert est.best_validation_score_ == pytest.approx(ref.best_validation_score_, rel=1e-12)
    # nothing lost: the best epoch's weights, as scikit-learn restores them
    for ours, theirs in zip(est.coefs_ + est.intercepts_, ref.coefs_ + ref.intercepts_):
        assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)
    assert est.score(X, y) == pytest.approx(ref.score(X, y), rel=1e-9)


def test_diverging_fit_keeps_the_history_aligned(iris):
    X, y = iris
    est = _quiet_fit(MLPRegressor(**DIVERGING, early_stopping=True, diagnostics=True), X, y)
    history = est.history_
    assert len(history) == len(history.validation_score) == len(history.update_ratio) == 5
    assert np.isnan(history.layer_grad_norms[-1]).all()
    assert history.layer_grad_norms.shape == (5, 2)
    assert np.isfinite(history.layer_grad_norms[:-1]).all()
    assert history.learning_rate[-1] == 1.0


def test_diverging_fit_without_early_stopping_raises_and_keeps_last_finite_weights(iris):
    X, y = iris
    est = MLPRegressor(**DIVERGING)
    with pytest.raises(ValueError, match="Solver produced non-finite parameter weights") as info:
        _quiet_fit(est, X, y)
    assert isinstance(info.value, training.DivergenceError)
    n_finite = est.n_iter_ - 1
    assert np.isnan(est.loss_curve_[-1]) and np.isfinite(est.loss_curve_[:-1]).all()
    # the weights are those of the last finite epoch: a fit stopped there has them too
    stopped = _quiet_fit(MLPRegressor(**dict(DIVERGING, max_iter=n_finite)), X, y)
    for ours, last in zip(est.coefs_ + est.intercepts_, stopped.coefs_ + stopped.intercepts_):
        assert_array_equal(ours, last)
    # scikit-learn raises the same error (after training on through NaN epochs)
    with pytest.raises(ValueError, match="Solver produced non-finite parameter weights"):
        _quiet_fit(sk.MLPRegressor(**DIVERGING), X, y)


# ---- early stopping's stratified split --------------------------------------------------
def test_unstratifiable_early_stopping_has_scikit_learns_message():
    X = [[1, 2], [2, 3], [3, 4], [4, 5]]
    y = [0, 0, 0, 1]
    with pytest.raises(ValueError) as theirs:
        sk.MLPClassifier(early_stopping=True).fit(X, y)
    with pytest.raises(ValueError) as ours:
        MLPClassifier(early_stopping=True).fit(X, y)
    assert str(ours.value).startswith(str(theirs.value))
    # scikit-learn names the binarized label; the original one is added
    assert "Classes with too few members are: ['True']" in str(ours.value)
    assert "class(es) [1] have only 1" in str(ours.value)


def test_stratification_errors_name_the_original_labels():
    # (scikit-learn stratifies single-output targets only: binary here)
    X = np.arange(40.0).reshape(20, 2)
    y = ["a"] * 19 + ["c"]
    with pytest.raises(ValueError, match=r"least populated class.*\['c'\] have only 1"):
        MLPClassifier(early_stopping=True).fit(X, y)


# ---- weights assigned before the first fit ----------------------------------------------
def _assign_start(est, rng):
    est.coefs_ = [0] * 2  # scikit-learn's own test_fit fills the list item by item
    est.intercepts_ = [0] * 2
    est.coefs_[0] = rng.normal(size=(4, 3))
    est.coefs_[1] = rng.normal(size=(3, 3))
    est.intercepts_[0] = rng.normal(size=3)
    est.intercepts_[1] = rng.normal(size=3)
    # the rest of the state scikit-learn then needs (fastmlp derives it)
    est.n_outputs_, est.n_layers_, est.out_activation_ = 3, 3, "softmax"
    est.n_iter_, est.t_, est.best_loss_, est.loss_curve_ = 0, 0, np.inf, []
    est._no_improvement_count = 0
    return est


@pytest.mark.parametrize("how", ["partial_fit", "warm_start"])
def test_weights_assigned_before_the_first_fit_are_the_start(iris, how):
    X, y = iris
    kw = dict(
        hidden_layer_sizes=(3,),
        solver="sgd",
        max_iter=3,
        random_state=0,
        warm_start=how == "warm_start",
    )
    ests = [
        _assign_start(M(**kw), np.random.RandomState(1)) for M in (MLPClassifier, sk.MLPClassifier)
    ]
    for est in ests:
        if how == "partial_fit":
            est.partial_fit(X, y, classes=[0, 1, 2])
        else:
            _quiet_fit(est, X, y)
    ours, theirs = ests
    assert ours.n_iter_ == theirs.n_iter_
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_assigned_weights_are_checked_and_dropped_by_a_fresh_fit(iris):
    X, y = iris
    est = _assign_start(
        MLPClassifier(hidden_layer_sizes=(5,), max_iter=2), np.random.RandomState(1)
    )
    with pytest.raises(ValueError, match=r"assigned coefs_\), with layer sizes \[4, 3, 3\]"):
        est.partial_fit(X, y, classes=[0, 1, 2])
    _quiet_fit(est, X, y)  # neither warm_start nor partial_fit: new weights, as scikit-learn
    assert [c.shape for c in est.coefs_] == [(4, 5), (5, 3)]
    half = MLPClassifier(hidden_layer_sizes=(3,))
    half.coefs_ = [np.zeros((4, 3)), np.zeros((3, 3))]
    with pytest.raises(ValueError, match="Only one of coefs_ and intercepts_"):
        half.partial_fit(X, y, classes=[0, 1, 2])
