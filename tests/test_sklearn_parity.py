"""Same random_state, same numbers: fastmlp's estimators against scikit-learn's.

The initial weights, the validation split and the per-epoch shuffles are drawn from the
same stream in the same order, so in float64 the loss curves and the weights after a few
epochs agree to rounding (asserted at 1e-6 relative), and L-BFGS reaches the same loss.
Datasets are the ones shipped with scikit-learn: digits (10 classes), breast cancer
(binary), iris; diabetes (one output) and linnerud (three outputs).
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn import neural_network as sk
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    load_iris,
    load_linnerud,
)
from sklearn.preprocessing import StandardScaler

import fastmlp

RTOL = 1e-6

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore:Got `batch_size`:UserWarning"),
]


def _scaled(X):
    return StandardScaler().fit_transform(X)


def _classification(name):
    loader = {"digits": load_digits, "breast_cancer": load_breast_cancer, "iris": load_iris}
    X, y = loader[name](return_X_y=True)
    return _scaled(X), y


def _regression(name):
    if name == "diabetes":
        X, y = load_diabetes(return_X_y=True)
        return _scaled(X), (y - y.mean()) / y.std()
    X, Y = load_linnerud(return_X_y=True)
    return _scaled(X), _scaled(Y)


def rel_diff(a, b):
    """max |a - b| relative to max |b| (elementwise relative error is noise near zero)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), np.finfo(float).tiny))


def assert_same_fit(ours, theirs, rtol=RTOL):
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.t_ == theirs.t_
    assert ours.n_layers_ == theirs.n_layers_
    assert ours.n_outputs_ == theirs.n_outputs_
    assert ours.out_activation_ == theirs.out_activation_
    assert_allclose(ours.loss_, theirs.loss_, rtol=rtol)
    if hasattr(theirs, "loss_curve_"):
        assert len(ours.loss_curve_) == len(theirs.loss_curve_)
        assert rel_diff(ours.loss_curve_, theirs.loss_curve_) < rtol
        if theirs.best_loss_ is None:
            assert ours.best_loss_ is None
        else:
            assert_allclose(ours.best_loss_, theirs.best_loss_, rtol=rtol)
        if theirs.validation_scores_ is None:
            assert ours.validation_scores_ is None
        else:
            assert_allclose(ours.validation_scores_, theirs.validation_scores_, rtol=rtol)
            assert_allclose(ours.best_validation_score_, theirs.best_validation_score_, rtol=rtol)
    for mine, ref in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        assert mine.shape == ref.shape
        assert rel_diff(mine, ref) < rtol


STOCHASTIC = [
    dict(solver="sgd"),
    dict(solver="sgd", learning_rate="invscaling", nesterovs_momentum=False, batch_size=32),
    dict(solver="adam"),
    dict(solver="adam", early_stopping=True),
    dict(solver="sgd", early_stopping=True, validation_fraction=0.2, shuffle=False),
]


def _fit_both(kind, X, y, sample_weight=None, **params):
    ours_cls, theirs_cls = {
        "classifier": (fastmlp.MLPClassifier, sk.MLPClassifier),
        "regressor": (fastmlp.MLPRegressor, sk.MLPRegressor),
    }[kind]
    ours = ours_cls(**params).fit(X, y, sample_weight=sample_weight)
    theirs = theirs_cls(**params).fit(X, y, sample_weight=sample_weight)
    return ours, theirs


@pytest.mark.parametrize("dataset", ["digits", "breast_cancer"])
@pytest.mark.parametrize("params", STOCHASTIC, ids=lambda p: "-".join(map(str, p.values())))
def test_classifier_stochastic_parity(dataset, params):
    X, y = _classification(dataset)
    common = dict(hidden_layer_sizes=(32,), max_iter=10, random_state=0, learning_rate_init=0.01)
    ours, theirs = _fit_both("classifier", X, y, **common, **params)
    assert_same_fit(ours, theirs)
    assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))


@pytest.mark.parametrize("dataset", ["diabetes", "linnerud"])
@pytest.mark.parametrize("params", STOCHASTIC, ids=lambda p: "-".join(map(str, p.values())))
def test_regressor_stochastic_parity(dataset, params):
    X, y = _regression(dataset)
    common = dict(hidden_layer_sizes=(16, 8), max_iter=10, random_state=0, learning_rate_init=0.01)
    ours, theirs = _fit_both("regressor", X, y, **common, **params)
    assert_same_fit(ours, theirs)
    assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(
    "kind, dataset",
    [
        ("classifier", "iris"),
        ("classifier", "breast_cancer"),
        ("regressor", "diabetes"),
        ("regressor", "linnerud"),
    ],
)
@pytest.mark.parametrize("activation", ["relu", "logistic"])
def test_lbfgs_parity(kind, dataset, activation):
    X, y = (_classification if kind == "classifier" else _regression)(dataset)
    ours, theirs = _fit_both(
        kind,
        X,
        y,
        solver="lbfgs",
        hidden_layer_sizes=(10,),
        activation=activation,
        max_iter=30,
        random_state=1,
    )
    assert ours.n_iter_ == theirs.n_iter_
    assert_allclose(ours.loss_, theirs.loss_, rtol=RTOL)
    for mine, ref in zip(ours.coefs_, theirs.coefs_):
        assert rel_diff(mine, ref) < 1e-5


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_sample_weight_parity(kind, solver):
    X, y = _classification("iris") if kind == "classifier" else _regression("diabetes")
    sample_weight = np.random.RandomState(0).uniform(0.1, 3.0, size=X.shape[0])
    ours, theirs = _fit_both(
        kind,
        X,
        y,
        sample_weight=sample_weight,
        solver=solver,
        hidden_layer_sizes=(12,),
        max_iter=10,
        random_state=0,
        learning_rate_init=0.01,
    )
    assert_same_fit(ours, theirs)


def test_sample_weight_parity_with_early_stopping():
    X, y = _classification("breast_cancer")
    sample_weight = np.random.RandomState(1).uniform(0.5, 2.0, size=X.shape[0])
    ours, theirs = _fit_both(
        "classifier",
        X,
        y,
        sample_weight=sample_weight,
        hidden_layer_sizes=(12,),
        early_stopping=True,
        max_iter=10,
        random_state=0,
        learning_rate_init=0.01,
    )
    assert_same_fit(ours, theirs)


def test_poisson_parity():
    X, Y = load_linnerud(return_X_y=True)
    X, y = _scaled(X), Y[:, 2] / Y[:, 2].mean()  # pulse, positive counts-like
    for solver in ("adam", "lbfgs"):
        ours, theirs = _fit_both(
            "regressor",
            X,
            y,
            loss="poisson",
            solver=solver,
            hidden_layer_sizes=(8,),
            max_iter=10,
            random_state=0,
            learning_rate_init=0.01,
        )
        assert_same_fit(ours, theirs)


def test_multilabel_parity():
    X, y = _classification("digits")
    Y = np.column_stack([y % 2 == 0, y > 4, y % 3 == 0]).astype(int)
    ours, theirs = _fit_both(
        "classifier", X, Y, hidden_layer_sizes=(16,), max_iter=5, random_state=0
    )
    assert_same_fit(ours, theirs)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))


def test_adaptive_schedule_and_stopping_parity():
    # Stopping on the no-improvement counter and the adaptive rate division, as sklearn.
    X, y = _classification("iris")
    ours, theirs = _fit_both(
        "classifier",
        X,
        y,
        solver="sgd",
        learning_rate="adaptive",
        hidden_layer_sizes=(8,),
        max_iter=200,
        tol=1e-2,
        n_iter_no_change=3,
        random_state=0,
        learning_rate_init=0.05,
    )
    assert ours.n_iter_ == theirs.n_iter_ < 200
    assert_same_fit(ours, theirs)


def test_warm_start_and_partial_fit_parity():
    X, y = _classification("iris")
    params = dict(hidden_layer_sizes=(8,), max_iter=5, random_state=0, learning_rate_init=0.01)
    pairs = [
        (
            fastmlp.MLPClassifier(warm_start=True, **params),
            sk.MLPClassifier(warm_start=True, **params),
        ),
        (fastmlp.MLPClassifier(**params), sk.MLPClassifier(**params)),
    ]
    for ours, theirs in pairs:
        for _ in range(3):  # warm-started fits (first pair), or refits from scratch
            ours.fit(X, y)
            theirs.fit(X, y)
            assert_same_fit(ours, theirs)
    ours = fastmlp.MLPClassifier(solver="sgd", **params)
    theirs = sk.MLPClassifier(solver="sgd", **params)
    for start in range(0, 150, 50):
        part = slice(start, start + 50)
        ours.partial_fit(X[part], y[part], classes=np.unique(y))
        theirs.partial_fit(X[part], y[part], classes=np.unique(y))
        assert_same_fit(ours, theirs)


def test_float32_stays_float32_and_close():
    X, y = _classification("digits")
    X32 = X.astype(np.float32)
    params = dict(hidden_layer_sizes=(32,), max_iter=5, random_state=0)
    ours = fastmlp.MLPClassifier(**params).fit(X32, y)
    theirs = sk.MLPClassifier(**params).fit(X32, y)
    assert all(c.dtype == np.float32 for c in ours.coefs_ + ours.intercepts_)
    assert ours.predict_proba(X32).dtype == np.float32
    # Float32 rounding (summation order differs): close, not equal.
    assert rel_diff(ours.loss_curve_, theirs.loss_curve_) < 1e-4
    for mine, ref in zip(ours.coefs_, theirs.coefs_):
        assert rel_diff(mine, ref) < 1e-3
