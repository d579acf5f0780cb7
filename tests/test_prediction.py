"""Prediction's fast path: plain NumPy input skips scikit-learn's validation, yet refuses what
scikit-learn refuses with the same error types and messages, and predicts the same."""

import pickle
import re
import warnings

import numpy as np
import pytest
import sklearn.neural_network as sk
from numpy.testing import assert_array_equal
from sklearn.exceptions import ConvergenceWarning, NotFittedError

import fastmlp

PARAMS = dict(hidden_layer_sizes=(7,), max_iter=3, random_state=0)


def _fit(cls, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return cls(**PARAMS).fit(X, y)


@pytest.fixture(scope="module", params=["float32", "float64"])
def pair(request):
    rng = np.random.RandomState(0)
    X = rng.randn(40, 5).astype(request.param)
    y = rng.randint(0, 3, 40)
    return _fit(fastmlp.MLPClassifier, X, y), _fit(sk.MLPClassifier, X, y), X


def _bad_inputs(X):
    nan, inf = X[:3].copy(), X[:3].copy()
    nan[1, 2] = np.nan
    inf[2, 0] = np.inf
    return {
        "nan": nan,
        "inf": inf,
        "nan-last-chunk": np.vstack([X, nan]),
        "too-few-features": X[:, :4].copy(),
        "too-many-features": np.hstack([X, X[:, :1]]),
        "1-d": X[0].copy(),
        "3-d": X[None, :3].copy(),
        "no-rows": X[:0].copy(),
    }


@pytest.mark.parametrize("method", ["predict", "predict_proba", "predict_log_proba"])
@pytest.mark.parametrize("case", list(_bad_inputs(np.zeros((4, 5)))))
def test_bad_input_fails_as_in_scikit_learn(pair, method, case):
    ours, theirs, X = pair
    bad = _bad_inputs(X)[case]
    with pytest.raises(Exception) as expected:
        getattr(theirs, method)(bad)
    with pytest.raises(type(expected.value), match=re.escape(str(expected.value))):
        getattr(ours, method)(bad)


@pytest.mark.parametrize("method", ["predict", "predict_proba", "predict_log_proba"])
def test_unfitted_model_fails_as_in_scikit_learn(method):
    X = np.zeros((2, 3))
    with pytest.raises(NotFittedError) as expected:
        getattr(sk.MLPClassifier(), method)(X)
    with pytest.raises(NotFittedError, match=re.escape(str(expected.value))):
        getattr(fastmlp.MLPClassifier(), method)(X)


def test_fast_path_equals_the_validated_path(pair):
    ours, _, X = pair
    assert X.flags.c_contiguous and X.dtype == ours._net.dtype  # the fast path's input
    as_list = X.tolist()  # the general path: scikit-learn's validation, then the kernels
    assert_array_equal(ours.predict_proba(X), ours.predict_proba(as_list))
    assert_array_equal(ours.predict(X), ours.predict(as_list))
    fortran = np.asfortranarray(X)
    assert_array_equal(ours.predict_proba(X), ours.predict_proba(fortran))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_latency_path_takes_read_only_and_unaligned_input(dtype):
    # After its first calls, a plain network's forward calls the kernel's machine code
    # directly, typed for the first input: other C-contiguous inputs of the dtype must give
    # the same outputs, and a NaN in them must still be refused.
    net = fastmlp.Network([5, 8, 3], output_activation="softmax", dtype=dtype, random_state=0)
    X = np.random.RandomState(3).randn(4, 5).astype(dtype)
    expected = net.forward(X.tolist())
    for _ in range(3):
        assert_array_equal(net.forward(X), expected)
    read_only = X.copy()
    read_only.flags.writeable = False
    raw = np.zeros(X.nbytes + 1, np.uint8)
    unaligned = raw[1:].view(dtype).reshape(X.shape)
    unaligned[...] = X
    assert not unaligned.flags.aligned
    for other in (read_only, unaligned):
        assert_array_equal(net.forward(other), expected)
    unaligned[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        net.forward(unaligned)


def test_latency_path_follows_the_networks_buffers():
    # The latency path binds the network's buffers once: writes into params, a params
    # array rebound, a NaN after many good calls and a pickled copy must all be seen.
    net = fastmlp.Network([5, 8, 3], output_activation="softmax", random_state=0)
    X = np.random.RandomState(4).randn(2, 5)
    for _ in range(3):
        first = net.forward(X)
    net.params *= 0.5
    halved = net.forward(X)
    assert not np.allclose(halved, first)
    assert_array_equal(halved, net.forward(X.tolist()))
    net.params = net.params * 2.0
    assert_array_equal(net.forward(X), first)
    copy = pickle.loads(pickle.dumps(net))
    assert_array_equal(copy.forward(X), first)
    X[1, 3] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        net.forward(X)


@pytest.mark.parametrize(
    "labels",
    [
        np.array([0, 1]),
        np.array(["no", "yes"]),
        np.array([-3, 7, 9]),
        np.array(["a", "b", "c"]),
    ],
)
def test_labels_match_the_label_binarizer(labels):
    rng = np.random.RandomState(1)
    X = rng.randn(60, 4)
    y = labels[rng.randint(0, len(labels), 60)]
    clf = _fit(fastmlp.MLPClassifier, X, y)
    outputs = clf._net.forward(X)
    expected = clf._label_binarizer.inverse_transform(
        outputs.ravel() if clf.n_outputs_ == 1 else outputs
    )
    predicted = clf.predict(X)
    assert predicted.dtype == expected.dtype
    assert_array_equal(predicted, expected)


def test_multilabel_predictions_are_indicators():
    rng = np.random.RandomState(2)
    X = rng.randn(50, 4)
    Y = rng.randint(0, 2, (50, 3))
    clf = _fit(fastmlp.MLPClassifier, X, Y)
    assert_array_equal(clf.predict(X), (clf._net.forward(X) > 0.5).astype(int))


def test_network_forward_refuses_non_finite_input_in_any_chunk():
    net = fastmlp.Network([3, 4, 2], random_state=0)
    X = np.ones((10, 3))
    X[7, 1] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        net.forward(X, chunk_size=3)
    X[7, 1] = 1.0
    # chunked and whole agree
    assert_array_equal(net.forward(X, chunk_size=3), net.forward(X))


def test_data_frame_feature_names_are_still_checked():
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(np.random.RandomState(0).randn(30, 3), columns=["a", "b", "c"])
    y = np.arange(30) % 2
    clf = _fit(fastmlp.MLPClassifier, X, y)
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        clf.predict(X.to_numpy())
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(X[["b", "a", "c"]])
