"""fastmlp on Dask: distributed L-BFGS, streaming with dask-ml, distributed search, bad input.

One LocalCluster (two worker processes, one thread each) serves the whole module.
"""

import os
import pickle
import signal
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("distributed", reason="needs the dask extra (pip install fastmlp[dask])")
pytest.importorskip("dask_ml", reason="needs the dask extra (pip install fastmlp[dask])")

import dask.array as da  # noqa: E402
import joblib  # noqa: E402
from distributed import Client, LocalCluster  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

import fastmlp  # noqa: E402
import fastmlp.dask as fdask  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

RTOL = 1e-8


@pytest.fixture(scope="module")
def client():
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    with Client(cluster) as c:
        yield c
    cluster.close()


def _data(n=600, n_features=6, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, n_features)
    y = (X[:, 0] + X[:, 1] ** 2 > 0.5).astype(int) + (X[:, 2] > 1)  # three classes
    return X, y, rng.uniform(0.1, 2.0, n)


LBFGS = dict(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=15, random_state=0)


def _assert_same_fit(a, b):
    curve_a, curve_b = np.array(a.history_.loss), np.array(b.history_.loss)
    assert curve_a.shape == curve_b.shape and curve_a.size >= 5
    np.testing.assert_allclose(curve_a, curve_b, rtol=RTOL)
    assert a.n_iter_ == b.n_iter_
    scale = np.abs(b._net.params).max()
    np.testing.assert_allclose(a._net.params, b._net.params, rtol=0, atol=RTOL * scale)


def test_lbfgs_equals_numpy_fit_with_unequal_blocks_and_weights(client):
    X, y, sw = _data()
    kw = dict(LBFGS, alpha=1e-2, l1=1e-3)
    expected = fastmlp.MLPClassifier(**kw).fit(X, y, sample_weight=sw)
    # Unequal row blocks; y and the weights chunked differently (rechunked to X's rows).
    Xd = da.from_array(X, chunks=((100, 350, 150), 6))
    got = fastmlp.MLPClassifier(**kw).fit(
        Xd, da.from_array(y, chunks=250), sample_weight=da.from_array(sw, chunks=400)
    )
    _assert_same_fit(got, expected)
    np.testing.assert_array_equal(got.classes_, [0, 1, 2])
    assert got.n_features_in_ == 6 and got.n_outputs_ == 3
    np.testing.assert_array_equal(got.predict(X), expected.predict(X))


def test_lbfgs_regressor_multi_output_reports_the_same_loss(client):
    X, _, _ = _data(seed=1)
    Y = np.c_[np.sin(X[:, 0]), X[:, 1] * X[:, 2]]
    kw = dict(LBFGS, alpha=1e-3)
    expected = fastmlp.MLPRegressor(**kw).fit(X, Y)
    got = fastmlp.MLPRegressor(**kw).fit(
        da.from_array(X, chunks=(200, 6)), da.from_array(Y, chunks=(300, 2))
    )
    _assert_same_fit(got, expected)  # loss curve: averaged over the two outputs, as sklearn
    assert got.loss_ == pytest.approx(expected.loss_, rel=RTOL)


def test_float32_input_trains_in_float32(client):
    X, y, _ = _data()
    X32 = X.astype(np.float32)
    expected = fastmlp.MLPClassifier(**LBFGS).fit(X32, y)
    got = fastmlp.MLPClassifier(**LBFGS).fit(da.from_array(X32, chunks=(200, 6)), y)
    assert got._net.dtype == np.float32
    # Float32 rounding in a different summation order: float32's tolerance, not float64's.
    np.testing.assert_allclose(got.history_.loss[:5], expected.history_.loss[:5], rtol=1e-4)


def test_data_are_never_gathered_to_the_client(client, monkeypatch):
    X, y, _ = _data()
    Xd, yd = da.from_array(X, chunks=(200, 6)), da.from_array(y, chunks=200)

    def refuse(self, *args, **kwargs):
        raise AssertionError("a Dask array was converted to NumPy on the client")

    monkeypatch.setattr(da.Array, "__array__", refuse)
    clf = fastmlp.MLPClassifier(**LBFGS).fit(Xd, yd)
    assert clf.n_iter_ > 0


def test_minibatch_solvers_name_the_alternatives(client):
    X, y, _ = _data()
    clf = fastmlp.MLPClassifier(solver="adam")
    with pytest.raises(ValueError, match="solver='lbfgs'.*Incremental"):
        clf.fit(da.from_array(X, chunks=(200, 6)), y)
    assert not hasattr(clf, "coefs_") and not hasattr(clf, "classes_")


def test_batch_norm_is_refused_on_dask_input(client):
    X, y, _ = _data()
    clf = fastmlp.MLPClassifier(solver="lbfgs", batch_norm=True)
    with pytest.raises(ValueError, match="batch_norm is not supported on Dask arrays"):
        clf.fit(da.from_array(X, chunks=(200, 6)), y)
    assert not hasattr(clf, "coefs_")


def _nan_chunks(X):
    Xd = da.from_array(X, chunks=(200, 6))
    return Xd[Xd[:, 0] > -10]  # boolean indexing: row counts unknown


def _with_nan(X):
    X = X.copy()
    X[5, 2] = np.nan
    return da.from_array(X, chunks=(200, 6))


@pytest.mark.parametrize(
    "make_X, y_len, match",
    [
        (_nan_chunks, None, "unknown chunk sizes"),
        (lambda X: da.from_array(X, chunks=(200, 3)), None, r"split its 6 columns.*rechunk"),
        (lambda X: da.from_array(X, chunks=(200, 6)), 500, "600 rows but y has 500"),
        (_with_nan, None, "X is finite"),
    ],
    ids=["nan-chunks", "split-columns", "y-length", "non-finite"],
)
def test_bad_input_is_refused_and_leaves_the_estimator_as_it_was(client, make_X, y_len, match):
    X, y, _ = _data()
    clf = fastmlp.MLPClassifier(**LBFGS).fit(X[:300], y[:300])
    before = pickle.dumps(clf)
    with pytest.raises(ValueError, match=match):
        clf.fit(make_X(X), da.from_array(y[:y_len], chunks=200))
    assert pickle.dumps(clf) == before


def test_a_fit_that_fails_midway_leaves_the_previous_fit(client, monkeypatch):
    X, y, _ = _data()
    clf = fastmlp.MLPClassifier(**LBFGS).fit(X[:300], y[:300])
    before = clf._net.params.copy()
    calls = []
    original = fdask.ClusterObjective.sums

    def fail_on_third(self, params):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("worker lost")
        return original(self, params)

    monkeypatch.setattr(fdask.ClusterObjective, "sums", fail_on_third)
    with pytest.raises(RuntimeError, match="worker lost"):
        clf.fit(da.from_array(X, chunks=(200, 6)), y)
    np.testing.assert_array_equal(clf._net.params, before)
    assert clf.n_features_in_ == 6


def test_a_worker_dying_mid_fit_is_retried_by_dask(client, monkeypatch):
    X, y, _ = _data()
    expected = fastmlp.MLPClassifier(**LBFGS).fit(X, y)
    calls = []
    original = fdask.ClusterObjective.sums

    def kill_a_worker_on_third(self, params):
        calls.append(1)
        if len(calls) == 3:
            victim = sorted(client.scheduler_info()["workers"])[0]
            pid = client.run(os.getpid, workers=[victim])[victim]
            os.kill(pid, signal.SIGKILL)  # the nanny starts a fresh worker process
        return original(self, params)

    monkeypatch.setattr(fdask.ClusterObjective, "sums", kill_a_worker_on_third)
    got = fastmlp.MLPClassifier(**LBFGS).fit(da.from_array(X, chunks=(200, 6)), y)
    # Lost blocks are recomputed from their lineage and the evaluation rerun: the same fit.
    _assert_same_fit(got, expected)
    client.wait_for_workers(2, timeout=60)


# ---- streaming and blockwise prediction with dask-ml ----------------------------------------
def test_incremental_streams_blocks_through_partial_fit(client):
    from dask_ml.wrappers import Incremental, ParallelPostFit

    X, y, _ = _data()
    kw = dict(hidden_layer_sizes=(8,), solver="adam", random_state=0, learning_rate_init=0.01)
    expected = fastmlp.MLPClassifier(**kw)
    for start in range(0, 600, 200):
        expected.partial_fit(X[start : start + 200], y[start : start + 200], classes=[0, 1, 2])
    inc = Incremental(fastmlp.MLPClassifier(**kw), shuffle_blocks=False)
    inc.fit(da.from_array(X, chunks=(200, 6)), da.from_array(y, chunks=200), classes=[0, 1, 2])
    np.testing.assert_allclose(inc.estimator_._net.params, expected._net.params, rtol=1e-12)

    post = ParallelPostFit(expected)
    proba = post.predict_proba(da.from_array(X, chunks=(150, 6)))
    assert isinstance(proba, da.Array)
    np.testing.assert_allclose(proba.compute(), expected.predict_proba(X), rtol=1e-12)
    np.testing.assert_array_equal(
        post.predict(da.from_array(X, chunks=(150, 6))).compute(), expected.predict(X)
    )


# ---- distributed model search ---------------------------------------------------------------
def test_grid_search_on_the_cluster_matches_the_local_search(client):
    from sklearn.model_selection import GridSearchCV

    X, y, _ = _data(n=300)
    grid = {"alpha": [1e-4, 1.0], "hidden_layer_sizes": [(4,), (16,)]}
    est = fastmlp.MLPClassifier(max_iter=20, learning_rate_init=0.01, random_state=0)
    local = GridSearchCV(est, grid, cv=3).fit(X, y)
    with joblib.parallel_backend("dask"):
        remote = GridSearchCV(est, grid, cv=3, n_jobs=-1).fit(X, y)
    assert remote.best_params_ == local.best_params_
    np.testing.assert_allclose(
        remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"], rtol=1e-12
    )

    def n_compiled():
        from fastmlp.kernels import cpu

        return len(cpu.train_epoch.signatures)

    # Twelve fits spread over two worker processes, each of which compiled (or loaded from
    # Numba's on-disk cache) the float64 epoch kernel once: estimators ship no compiled code.
    assert set(client.run(n_compiled).values()) == {1}


# dask-ml's incremental searches call dask.persist inside their asynchronous loop, which
# dask >= 2025.3 refuses (open upstream: dask/dask-ml issue 1016): the dask extra pins below.
def test_hyperband_drives_partial_fit(client):
    from dask_ml.model_selection import HyperbandSearchCV
    from scipy.stats import loguniform

    X, y, _ = _data()
    Xd, yd = da.from_array(X, chunks=(150, 6)), da.from_array(y, chunks=150)
    search = HyperbandSearchCV(
        fastmlp.MLPClassifier(hidden_layer_sizes=(16,), solver="adam", random_state=0),
        {"learning_rate_init": loguniform(1e-3, 1e-1), "alpha": loguniform(1e-5, 1e-1)},
        max_iter=9,
        random_state=0,
    )
    search.fit(Xd, yd, classes=[0, 1, 2])
    assert search.best_estimator_.t_ > 0  # trained by partial_fit calls
    assert search.best_score_ > 0.6  # three unbalanced classes: above the majority share
    assert len(search.cv_results_["params"]) > 5


def test_a_fitted_estimator_pickles_to_its_parameters(client):
    X, y, _ = _data()
    X = np.c_[X, X, X, X] * 1.0  # 24 features
    clf = fastmlp.MLPClassifier(**dict(LBFGS, hidden_layer_sizes=(64,)))
    clf.fit(da.from_array(X, chunks=(200, 24)), y)
    n_bytes = clf._net.params.nbytes
    assert len(pickle.dumps(clf)) < n_bytes + 10_000  # measured: about 7.5 kB over
    clone = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(clone.predict(X), clf.predict(X))


def test_warm_start_continues_from_the_previous_fit(client):
    X, y, _ = _data()
    kw = dict(LBFGS, max_iter=6, warm_start=True)
    expected = fastmlp.MLPClassifier(**kw).fit(X, y).fit(X, y)
    Xd, yd = da.from_array(X, chunks=(250, 6)), da.from_array(y, chunks=250)
    got = fastmlp.MLPClassifier(**kw).fit(Xd, yd).fit(Xd, yd)
    _assert_same_fit(got, expected)


def test_import_fastmlp_does_not_import_dask():
    code = "import sys, fastmlp; print([m for m in ('dask', 'distributed') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_convergence_warning_is_kept(client):
    X, y, _ = _data()
    with pytest.warns(ConvergenceWarning):
        fastmlp.MLPClassifier(**dict(LBFGS, max_iter=3)).fit(da.from_array(X, chunks=200), y)
