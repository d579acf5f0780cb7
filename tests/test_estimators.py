"""Behaviour of fastmlp.MLPClassifier / MLPRegressor as drop-in scikit-learn estimators.

Numbers against scikit-learn live in test_sklearn_parity.py, scikit-learn's own API checks
in test_estimator_checks.py; this file covers the rest: meta-estimators, pickling, input
kinds, fit/warm_start/partial_fit state, errors, the extras and save/load.
"""

import io
import json
import os
import pickle
import re
from contextlib import redirect_stdout

import numba
import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import neural_network as sk
from sklearn.base import clone
from sklearn.datasets import load_iris, make_multilabel_classification, make_regression
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import LabelBinarizer, StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from threadpoolctl import threadpool_info

import fastmlp
from fastmlp import MLPClassifier, MLPRegressor, estimators, training

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
]


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def regression():
    X, y = make_regression(n_samples=120, n_features=6, n_targets=2, noise=0.1, random_state=0)
    return X, y / y.std()


def small(cls=MLPClassifier, **params):
    defaults = dict(hidden_layer_sizes=(8,), max_iter=20, random_state=0, learning_rate_init=0.01)
    defaults.update(params)
    return cls(**defaults)


# ---- drop-in: meta-estimators, clone, pickle -------------------------------------------
def test_pipeline_grid_search_and_cross_validation(iris):
    X, y = iris
    pipe = make_pipeline(StandardScaler(), small(max_iter=30))
    search = GridSearchCV(pipe, {"mlpclassifier__alpha": [1e-4, 1e-2]}, cv=3).fit(X, y)
    assert search.best_score_ > 0.8
    assert cross_val_score(small(MLPRegressor), X, X[:, 0], cv=3).shape == (3,)


def test_clone_gives_unfitted_copy_with_same_params(iris):
    X, y = iris
    est = small(dropout=0.1, activation="tanh").fit(*iris)
    copy = clone(est)
    assert copy.get_params() == est.get_params()
    with pytest.raises(NotFittedError):
        copy.predict(X)
    assert_array_equal(copy.fit(X, y).predict_proba(X), est.predict_proba(X))


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_pickle_round_trip_keeps_views_and_predictions(iris, solver):
    X, y = iris
    est = small(solver=solver).fit(X, y)
    again = pickle.loads(pickle.dumps(est))
    assert_array_equal(again.predict_proba(X), est.predict_proba(X))
    params = again._net.params
    for array in again.coefs_ + again.intercepts_:
        assert np.shares_memory(array, params)
    again.coefs_[0][0, 0] += 1.0  # a view: editing it changes the model
    assert not np.array_equal(again.predict_proba(X), est.predict_proba(X))


def test_pickled_estimator_continues_training_identically(iris):
    X, y = iris
    est = small(solver="sgd").partial_fit(X, y, classes=np.unique(y))
    again = pickle.loads(pickle.dumps(est))
    est.partial_fit(X, y)
    again.partial_fit(X, y)
    assert_array_equal(again._net.params, est._net.params)
    assert again.t_ == est.t_ == 2 * len(X)


def test_coefs_setter_copies_into_network(iris):
    est = small().fit(*iris)
    zeros = [np.zeros_like(c) for c in est.coefs_]
    est.coefs_ = zeros
    assert all(np.all(c == 0) for c in est.coefs_)
    with pytest.raises(ValueError, match="shapes"):
        est.coefs_ = zeros[:1]
    with pytest.raises(AttributeError):
        MLPClassifier().coefs_


# ---- targets and inputs ------------------------------------------------------------------
def test_string_labels_binary_and_multiclass(iris):
    X, y = iris
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    est = small().fit(X, names)
    assert_array_equal(est.classes_, ["setosa", "versicolor", "virginica"])
    assert set(est.predict(X)) <= set(names)
    proba = est.predict_proba(X)
    assert proba.shape == (150, 3) and est.out_activation_ == "softmax"
    assert_allclose(proba.sum(axis=1), 1.0)
    assert_allclose(est.predict_log_proba(X), np.log(proba))

    binary = np.where(y == 0, "a", "b")
    est = small(max_iter=60).fit(X, binary)
    assert est.n_outputs_ == 1 and est.out_activation_ == "logistic"
    proba = est.predict_proba(X)
    assert proba.shape == (150, 2)
    assert_allclose(proba.sum(axis=1), 1.0)
    assert est.score(X, binary) > 0.9


def test_multilabel_and_multioutput_regression(regression):
    X, Y = make_multilabel_classification(n_samples=80, n_classes=4, random_state=0)
    est = small(max_iter=50).fit(X, Y)
    assert est.predict(X).shape == Y.shape
    assert est.predict_proba(X).shape == Y.shape
    assert est.out_activation_ == "logistic"
    X, Y = regression
    reg = small(MLPRegressor, max_iter=50).fit(X, Y)
    assert reg.predict(X).shape == Y.shape and reg.n_outputs_ == 2
    one = small(MLPRegressor).fit(X, Y[:, 0])
    assert one.predict(X).shape == (len(X),)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_input_matches_dense(iris, fmt):
    X, y = iris
    dense = small().fit(X, y)
    sparse = small().fit(sp.csr_matrix(X).asformat(fmt), y)
    assert_allclose(sparse.predict_proba(sp.csr_matrix(X).asformat(fmt)), dense.predict_proba(X))


def test_float32_is_kept(iris):
    X, y = iris
    est = small().fit(X.astype(np.float32), y)
    assert est._net.dtype == np.float32
    assert all(a.dtype == np.float32 for a in est.coefs_ + est.intercepts_)
    assert est.predict_proba(X.astype(np.float32)).dtype == np.float32


# ---- fit state: warm_start, partial_fit, stopping ----------------------------------------
def test_warm_start_keeps_counters_and_curve_fresh_fit_resets(iris):
    X, y = iris
    est = small(warm_start=True, max_iter=5).fit(X, y)
    est.fit(X, y)
    assert est.n_iter_ == 5 and est.t_ == 10 * len(X) and len(est.loss_curve_) == 10
    assert est.best_loss_ == min(est.loss_curve_)
    est.set_params(warm_start=False).fit(X, y)
    assert est.t_ == 5 * len(X) and len(est.loss_curve_) == 5


def test_partial_fit_runs_one_epoch_and_keeps_optimizer(iris):
    X, y = iris
    est = small(solver="adam")
    est.partial_fit(X, y, classes=np.unique(y))
    optimizer = est._optimizer
    est.partial_fit(X[:40], y[:40])  # y need not contain every class
    assert est._optimizer is optimizer
    assert est.n_iter_ == 1 and est.t_ == len(X) + 40 and len(est.loss_curve_) == 2
    est.fit(X, y)
    assert est._optimizer is not optimizer  # a fit starts a fresh optimizer


def test_partial_fit_not_available_for_lbfgs_classifier():
    est = MLPClassifier(solver="lbfgs")
    assert not hasattr(est, "partial_fit")
    with pytest.raises(AttributeError, match="partial_fit") as info:
        est.partial_fit
    assert "not stochastic" in str(info.value.__cause__)
    # scikit-learn's regressor keeps partial_fit for every solver.
    assert hasattr(MLPRegressor(solver="lbfgs"), "partial_fit")
    assert hasattr(sk.MLPRegressor(solver="lbfgs"), "partial_fit")


def test_early_stopping_attributes_and_best_weights(iris):
    X, y = iris
    est = small(early_stopping=True, max_iter=30, n_iter_no_change=3).fit(X, y)
    assert est.best_loss_ is None
    assert len(est.validation_scores_) == est.n_iter_ == len(est.history_.validation_score)
    assert est.best_validation_score_ == max(est.validation_scores_)
    plain = small(max_iter=5).fit(X, y)
    assert plain.validation_scores_ is None and plain.best_validation_score_ is None


def test_convergence_warning_and_inf_patience(iris):
    X, y = iris
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        small(max_iter=3).fit(X, y)
    est = small(max_iter=40, tol=10.0, n_iter_no_change=np.inf).fit(X, y)
    assert est.n_iter_ == 40  # never stops on the counter
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        small(solver="lbfgs", max_iter=2).fit(X, y)


def test_verbose_prints_iterations(iris):
    out = io.StringIO()
    with redirect_stdout(out):
        small(max_iter=2, verbose=True).fit(*iris)
    assert re.search(r"Iteration 2, loss = \d", out.getvalue())


def test_keyboard_interrupt_keeps_model(iris, monkeypatch):
    X, y = iris
    run_epoch = training._EpochRunner.run
    calls = []

    def interrupted_in_third_epoch(self):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return run_epoch(self)

    monkeypatch.setattr(training._EpochRunner, "run", interrupted_in_third_epoch)
    with pytest.warns(UserWarning, match="Training interrupted by user"):
        est = small(max_iter=10).fit(X, y)
    assert est.n_iter_ == 2 and len(est.loss_curve_) == 2
    assert np.all(np.isfinite(est.coefs_[0]))
    assert est.predict(X).shape == y.shape


# ---- errors ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "params",
    [
        dict(solver="newton"),
        dict(activation="softmax"),
        dict(alpha=-1.0),
        dict(hidden_layer_sizes="many"),
        dict(learning_rate="sometimes"),
        dict(momentum=2.0),
        dict(batch_size=0),
        dict(dropout=1.0),
        dict(init="zeros"),
        dict(n_threads=0),
        dict(max_grad_norm=0.0),
        dict(l1=-0.1),
    ],
)
def test_invalid_parameters_raise_invalid_parameter_error(iris, params):
    with pytest.raises(InvalidParameterError):
        MLPClassifier(**params).fit(*iris)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(hidden_layer_sizes=(0,)), "hidden_layer_sizes must be > 0"),
        (dict(hidden_layer_sizes=(4, 4), activation=["relu"]), "1 names for 2 hidden layers"),
        (dict(activation=["relu", "swish"], hidden_layer_sizes=(4, 4)), "unknown names"),
        (dict(dropout=[0.1, 0.2]), "dropout lists 2 rates for 1 hidden layers"),
        (dict(lr_min=1.0, learning_rate_init=0.1, solver="sgd"), "lr_min"),
    ],
)
def test_inconsistent_parameters_raise_value_error(iris, params, match):
    est = MLPClassifier(max_iter=2, **params)
    with pytest.raises(ValueError, match=match):
        est.fit(*iris)
    assert not hasattr(est, "coefs_")  # refused before a network was built


def test_bad_data_fails_like_sklearn(iris):
    X, y = iris
    for bad in (np.nan, np.inf):
        Xbad = X.copy()
        Xbad[3, 1] = bad
        with pytest.raises(ValueError, match="Input X contains"):
            small().fit(Xbad, y)
    with pytest.raises(ValueError, match="0 sample"):
        small().fit(X[:0], y[:0])
    with pytest.raises(ValueError, match="Input y contains NaN"):
        small(MLPRegressor).fit(X, np.where(y == 0, np.nan, y))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        small().fit(X, y[:-1])
    est = small().fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but MLPClassifier is expecting 4"):
        est.predict(X[:, :3])
    with pytest.raises(ValueError, match="Expected 2D array"):
        est.predict(X[0])
    with pytest.raises(NotFittedError):
        MLPRegressor().predict(X)


def test_partial_fit_label_errors(iris):
    X, y = iris
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        small().partial_fit(X, y)
    est = small().partial_fit(X[y < 2], y[y < 2], classes=[0, 1])
    with pytest.raises(ValueError, match="`y` has classes not in `self.classes_`"):
        est.partial_fit(X, y)
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
        small(early_stopping=True).partial_fit(X, y, classes=[0, 1, 2])
    warm = small(warm_start=True).fit(X, y)
    with pytest.raises(ValueError, match="warm_start can only be used where `y` has the same"):
        warm.fit(X[y < 2], y[y < 2])


@pytest.mark.parametrize(
    "y", [[0, 1, 1, 0], [3, -2, 3, 3], [0, 2, 1, 2, 5], [7, 9, 8, 9, 7]], ids=str
)
def test_fast_label_binarizing_is_the_binarizers(y):
    # Integer labels skip LabelBinarizer's checks (~2 ms, the whole of a small partial_fit).
    y = np.asarray(y)
    binarizer = LabelBinarizer().fit(y)
    expected = binarizer.transform(y).astype(bool)
    got = estimators._binarized(binarizer, y)
    assert got.dtype == bool and got.shape == expected.shape
    assert_array_equal(got, expected)
    assert_array_equal(estimators._binarized(binarizer, y[::-1]), expected[::-1])


def test_fast_label_binarizing_leaves_the_rest_to_the_binarizer():
    binarizer = LabelBinarizer().fit([0, 1, 2])
    assert estimators._binarized(binarizer, np.array([0, 3])) is None  # unseen label
    assert estimators._binarized(binarizer, np.array([0, 1]), every_class=True) is None
    assert estimators._binarized(binarizer, np.array([0.0, 1.0])) is None  # floats
    strings = LabelBinarizer().fit(["a", "b"])
    assert estimators._binarized(strings, np.array(["a", "b"])) is None
    multilabel = LabelBinarizer().fit(np.array([[0, 1], [1, 1]]))
    assert estimators._binarized(multilabel, np.array([[0, 1], [1, 0]])) is None


def test_partial_fit_with_fast_labels_trains_as_before(iris):
    # The same updates whether the labels take the fast path (ints) or the binarizer's
    # (the same labels as strings, which it maps to the same columns).
    X, y = iris
    as_ints = small(random_state=0).partial_fit(X, y, classes=[0, 1, 2])
    as_strings = small(random_state=0).partial_fit(X, y.astype(str), classes=["0", "1", "2"])
    for _ in range(3):
        as_ints.partial_fit(X[::2], y[::2])
        as_strings.partial_fit(X[::2], y[::2].astype(str))
    for a, b in zip(as_ints.coefs_, as_strings.coefs_):
        assert_array_equal(a, b)


def test_warm_start_with_other_architecture_is_refused(iris):
    est = small(warm_start=True).fit(*iris)
    with pytest.raises(ValueError, match="layer sizes"):
        est.set_params(hidden_layer_sizes=(5,)).fit(*iris)


def test_single_sample_class_under_early_stopping(iris):
    X, y = iris
    y = (np.arange(len(y)) == 7).astype(int)  # class 1 has one sample
    with pytest.raises(ValueError, match=r"class\(es\) \[1\] have only 1"):
        small(early_stopping=True).fit(X, y)


def test_poisson_needs_non_negative_targets(iris):
    X, _ = iris
    with pytest.raises(ValueError, match="negative"):
        small(MLPRegressor, loss="poisson").fit(X, X[:, 0])


def test_divergence_raises_value_error_and_keeps_finite_weights(regression):
    X, y = regression
    est = MLPRegressor(solver="sgd", learning_rate_init=1e6, max_iter=50, random_state=0)
    with pytest.raises(ValueError, match="non-finite") as info:
        est.fit(X * 1e3, y)
    assert isinstance(info.value, training.DivergenceError)
    assert all(np.all(np.isfinite(a)) for a in est.coefs_ + est.intercepts_)
    assert len(est.loss_curve_) == est.n_iter_ < 50
    assert np.all(np.isfinite(est.predict(X)))


# ---- extras ---------------------------------------------------------------------------
@pytest.mark.parametrize("solver", ["adamw", "rmsprop", "adagrad"])
def test_extra_solvers_learn(iris, solver):
    rate = 0.1 if solver == "adagrad" else 0.01  # adagrad's steps shrink fast
    est = small(solver=solver, max_iter=60, learning_rate_init=rate).fit(*iris)
    assert est.score(*iris) > 0.85
    assert est.loss_curve_[-1] < est.loss_curve_[0]


@pytest.mark.parametrize(
    "schedule, expected",
    [("step", [0.1, 0.1, 0.01, 0.01, 0.001]), ("exponential", [0.1, 0.05, 0.025, 0.0125])],
)
def test_epoch_schedules_apply_to_non_adam_solvers(iris, schedule, expected):
    est = small(
        solver="rmsprop",
        learning_rate=schedule,
        learning_rate_init=0.1,
        lr_gamma=0.1 if schedule == "step" else 0.5,
        lr_step_size=2,
        max_iter=len(expected),
        tol=0.0,
        n_iter_no_change=100,
    )
    est.fit(*iris)
    assert_allclose(est.history_.learning_rate, expected)
    cosine = small(
        solver="sgd",
        learning_rate="cosine",
        learning_rate_init=0.1,
        lr_min=0.01,
        lr_horizon=4,
        max_iter=5,
        tol=0.0,
    ).fit(*iris)
    assert_allclose(cosine.history_.learning_rate[[0, 2, 4]], [0.1, 0.055, 0.01])


def test_adam_ignores_the_schedule_as_sklearn(iris):
    a = small(solver="adam", learning_rate="invscaling").fit(*iris)
    b = small(solver="adam").fit(*iris)
    assert_array_equal(a._net.params, b._net.params)


def test_extras_off_by_default_reproduce_plain_fit(iris):
    plain = small().fit(*iris)
    explicit = small(l1=0.0, dropout=0.0, max_grad_norm=None, init="glorot_uniform").fit(*iris)
    assert_array_equal(plain._net.params, explicit._net.params)


def test_diagnostics_off_trains_the_same_and_records_loss_only(iris):
    X, y = iris
    kwargs = dict(hidden_layer_sizes=(8,), max_iter=5, random_state=0)
    with pytest.warns(ConvergenceWarning):
        on = fastmlp.MLPClassifier(**kwargs, diagnostics=True).fit(X, y)
        off = fastmlp.MLPClassifier(**kwargs).fit(X, y)  # off is the default
    for a, b in zip(on.coefs_ + on.intercepts_, off.coefs_ + off.intercepts_):
        assert_array_equal(a, b)
    assert_array_equal(on.loss_curve_, off.loss_curve_)
    assert len(on.history_.grad_norm) == len(on.history_.dead_fraction) == 5
    assert len(off.history_.loss) == 5
    assert len(off.history_.grad_norm) == len(off.history_.update_ratio) == 0


def test_per_layer_activations_l1_dropout_clipping_init(iris):
    X, y = iris
    est = small(
        hidden_layer_sizes=(16, 8),
        activation=["leaky_relu", "elu"],
        dropout=[0.2, 0.0],
        max_grad_norm=1.0,
        l1=1e-3,
        init="he_uniform",
        max_iter=40,
        diagnostics=True,
    ).fit(X, y)
    assert est._net.activation == ["leaky_relu", "elu"]
    assert est.score(X, y) > 0.8
    grad_norms = est.history_.grad_norm
    assert grad_norms.shape == (40,) and np.all(np.isfinite(grad_norms))
    assert est.history_.dead_fraction.shape == (40, 2)
    assert est.init == "he_uniform"
    # l1 shrinks weights toward zero compared with no l1
    strong = small(l1=1.0, max_iter=40).fit(X, y)
    weak = small(max_iter=40).fit(X, y)
    assert np.abs(strong.coefs_[0]).sum() < np.abs(weak.coefs_[0]).sum()


def test_n_threads_is_scoped_to_the_call(iris, monkeypatch):
    before = numba.get_num_threads()
    seen = []
    original = training.run_epochs

    def spy(*args, **kwargs):
        blas = {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}
        seen.append((numba.get_num_threads(), blas))
        return original(*args, **kwargs)

    monkeypatch.setattr(training, "run_epochs", spy)
    small(n_threads=1).fit(*iris)
    # BLAS limited during the call; Numba's pool untouched (no kernel runs on it).
    assert seen == [(before, {1})]
    assert numba.get_num_threads() == before


# ---- persistence ------------------------------------------------------------------------
def _roundtrip(est, tmp_path, name="model.npz"):
    path = tmp_path / name
    est.save(path)
    return fastmlp.load(path)


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_save_load_round_trips_predictions_exactly(iris, tmp_path, solver):
    X, y = iris
    labels = np.array(["setosa", "versicolor", "virginica"], dtype=object)[y]
    est = small(solver=solver, early_stopping=solver == "sgd").fit(X, labels)
    loaded = _roundtrip(est, tmp_path)
    assert type(loaded) is MLPClassifier
    assert loaded.get_params() == est.get_params()
    assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))
    assert_array_equal(loaded.predict(X), est.predict(X))
    assert loaded.classes_.dtype == est.classes_.dtype
    for name in (
        "n_iter_",
        "t_",
        "loss_",
        "n_layers_",
        "n_outputs_",
        "out_activation_",
        "n_features_in_",
        "best_loss_",
        "loss_curve_",
        "validation_scores_",
    ):
        assert getattr(loaded, name, "missing") == getattr(est, name, "missing"), name
    assert_array_equal(loaded.history_.loss, est.history_.loss)


def test_save_load_regressor_float32_and_resume(regression, tmp_path):
    X, Y = regression
    est = small(MLPRegressor, solver="adam", max_iter=5).fit(X.astype(np.float32), Y)
    loaded = _roundtrip(est, tmp_path)
    assert loaded._net.dtype == np.float32
    assert_array_equal(loaded.predict(X), est.predict(X))
    # the optimizer state travels too: resuming gives the same weights
    est.partial_fit(X, Y)
    loaded.partial_fit(X, Y)
    assert_allclose(loaded._net.params, est._net.params, rtol=0, atol=0)


def test_load_refuses_foreign_and_newer_files(iris, tmp_path):
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, params=np.zeros(3))
    with pytest.raises(ValueError, match="not a fastmlp model file"):
        fastmlp.load(foreign)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not a fastmlp model file"):
        fastmlp.load(text)
    plain = tmp_path / "array.npy"
    np.save(plain, np.zeros(3))
    with pytest.raises(ValueError, match="not a fastmlp model file"):
        fastmlp.load(plain)

    est = small(max_iter=2).fit(*iris)
    path = tmp_path / "model.npz"
    est.save(path)
    with np.load(path) as archive:
        arrays = dict(archive)
    meta = json.loads(arrays["fastmlp_metadata"].tobytes())
    meta["format_version"] = 99
    arrays["fastmlp_metadata"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    newer = tmp_path / "newer.npz"
    np.savez(newer, **arrays)
    with pytest.raises(ValueError, match="format version 99.*upgrade fastmlp"):
        fastmlp.load(newer)


def test_save_is_atomic(iris, tmp_path, monkeypatch):
    est = small(max_iter=2).fit(*iris)
    path = tmp_path / "model.npz"
    est.save(path)
    before = path.read_bytes()

    def failing_savez(file, **arrays):
        file.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", failing_savez)
    with pytest.raises(OSError, match="disk full"):
        small(max_iter=3, random_state=1).fit(*iris).save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.npz"]  # no temporary file left behind
    with pytest.raises(OSError):
        est.save(tmp_path / "new.npz")
    assert not (tmp_path / "new.npz").exists()


def test_save_requires_a_fitted_estimator(tmp_path):
    with pytest.raises(NotFittedError):
        MLPClassifier().save(tmp_path / "m.npz")


def test_lbfgs_history_is_kept_apart_from_epochs(iris):
    X, y = iris
    est = small(solver="lbfgs", max_iter=5).fit(X, y)
    assert len(est.history_.loss) == est.n_iter_
    assert not hasattr(est, "loss_curve_")  # as scikit-learn: lbfgs has no loss curve
    est.set_params(solver="adam").partial_fit(X, y)  # scikit-learn fails here
    assert len(est.loss_curve_) == 1 and est.n_iter_ == 1
