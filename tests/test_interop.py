"""Interop: ONNX export, scikit-learn and PyTorch conversion, each checked for equal outputs."""

import pickle
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from sklearn import neural_network
from sklearn.exceptions import ConvergenceWarning, NotFittedError

import fastmlp

HIDDEN = ("identity", "logistic", "tanh", "relu", "leaky_relu", "elu")
DTYPES = (np.float32, np.float64)
# The tolerances: onnxruntime against predict/predict_proba.
ONNX_ATOL = {np.float32: 1e-5, np.float64: 1e-10}
TASKS = ("binary", "multiclass", "multilabel", "regression", "poisson")


def _data(task, dtype, n=60, n_features=5, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, n_features).astype(dtype)
    if task == "binary":
        y = (X[:, 0] + X[:, 1] > 0).astype(int)
    elif task == "multiclass":
        y = np.digitize(X[:, 0], [-0.5, 0.5])
    elif task == "multilabel":
        y = np.stack([X[:, 0] > 0, X[:, 1] > 0, X[:, 0] + X[:, 2] > 0], axis=1).astype(int)
    elif task == "regression":
        y = np.stack([X[:, 0] - X[:, 1], X[:, 2]], axis=1)
    else:  # poisson counts
        y = rng.poisson(np.exp(0.3 * X[:, 0]))
    return X, y


def _fit(task, dtype, activation="relu", hidden=(7, 4), solver="adam", **params):
    X, y = _data(task, dtype)
    if task in ("regression", "poisson"):
        loss = "poisson" if task == "poisson" else "squared_error"
        est = fastmlp.MLPRegressor(
            loss=loss,
            hidden_layer_sizes=hidden,
            activation=activation,
            solver=solver,
            max_iter=15,
            random_state=0,
            **params,
        )
    else:
        est = fastmlp.MLPClassifier(
            hidden_layer_sizes=hidden,
            activation=activation,
            solver=solver,
            max_iter=15,
            random_state=0,
            **params,
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    return est, X


def _expected(est, X):
    """What ONNX must give: (label, probabilities) or the regressor's 2-D variable."""
    if fastmlp.MLPClassifier is type(est):
        return [est.predict(X), est.predict_proba(X)]
    return [est.predict(X).reshape(X.shape[0], -1)]


# ==== ONNX ====================================================================================
@pytest.fixture(scope="module")
def ort():
    pytest.importorskip("onnx", reason="ONNX export needs the onnx extra")
    return pytest.importorskip("onnxruntime", reason="ONNX checks need the onnx extra")


def _run(ort, model, X):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return [o.name for o in session.get_outputs()], session.run(None, {"X": X})


def _assert_outputs_equal(outputs, expected, dtype):
    assert len(outputs) == len(expected)
    for got, want in zip(outputs, expected):
        assert got.shape == want.shape
        if want.dtype.kind == "f":
            assert got.dtype == dtype
            np.testing.assert_allclose(got, want, rtol=0, atol=ONNX_ATOL[dtype])
        else:
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("activation", HIDDEN)
def test_onnx_matches_predictions(ort, activation, task, dtype):
    skl2onnx = pytest.importorskip("skl2onnx", reason="skl2onnx conversion needs the onnx extra")
    est, X = _fit(task, dtype, activation)
    expected = _expected(est, X)
    names, outputs = _run(ort, fastmlp.to_onnx(est, X), X)
    assert names == (["label", "probabilities"] if len(expected) == 2 else ["variable"])
    _assert_outputs_equal(outputs, expected, dtype)
    # skl2onnx's own entry point builds the same graph through the registered converter.
    options = {id(est): {"zipmap": False}} if len(expected) == 2 else None
    _, outputs = _run(ort, skl2onnx.to_onnx(est, X, options=options), X)
    _assert_outputs_equal(outputs, expected, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_onnx_per_layer_activations_and_parameters(ort, dtype):
    net = fastmlp.Network(
        [5, 6, 6, 6, 6, 6, 6, 3],
        activation=list(HIDDEN),
        output_activation="softmax",
        loss="log_loss",
        dtype=dtype.__name__,
        random_state=1,
        leaky_slope=0.3,
        elu_alpha=0.7,
    )
    X = np.random.RandomState(2).randn(40, 5).astype(dtype) * 3
    names, outputs = _run(ort, fastmlp.to_onnx(net, X), X)
    assert names == ["output"]
    _assert_outputs_equal(outputs, [net.forward(X)], dtype)
    # The slope and alpha reach the graph: the defaults would give other outputs here.
    default = fastmlp.Network(
        [5, 6, 6, 6, 6, 6, 6, 3],
        activation=list(HIDDEN),
        output_activation="softmax",
        loss="log_loss",
        dtype=dtype.__name__,
        random_state=1,
    )
    assert np.abs(default.forward(X) - outputs[0]).max() > 1e-4


@pytest.mark.parametrize("output", ["identity", "logistic", "softmax", "exp"])
def test_onnx_network_outputs(ort, output):
    loss = {
        "identity": "squared_error",
        "logistic": "binary_log_loss",
        "softmax": "log_loss",
        "exp": "poisson",
    }[output]
    net = fastmlp.Network(
        [4, 5, 3], activation="tanh", output_activation=output, loss=loss, random_state=0
    )
    X = np.random.RandomState(0).randn(30, 4)
    _assert_outputs_equal(_run(ort, fastmlp.to_onnx(net), X)[1], [net.forward(X)], np.float64)


def test_onnx_element_types_follow_the_sample(ort):
    import onnx

    est, X = _fit("multiclass", np.float32)
    for sample, elem in (
        (X, onnx.TensorProto.FLOAT),
        (X.astype(np.float64), onnx.TensorProto.DOUBLE),
    ):
        model = fastmlp.to_onnx(est, sample)
        assert model.graph.input[0].type.tensor_type.elem_type == elem
        # A float64 input is cast to the float32 network; outputs stay the model's dtype.
        _, outputs = _run(ort, model, sample)
        _assert_outputs_equal(outputs, _expected(est, X), np.float32)
    with pytest.raises(ValueError, match="X_sample must have shape"):
        fastmlp.to_onnx(est, X[:, :3])
    # skl2onnx's integer input is cast to the network's dtype too.
    skl2onnx = pytest.importorskip("skl2onnx", reason="skl2onnx conversion needs the onnx extra")
    X_int = np.round(3 * X).astype(np.int64)
    model = skl2onnx.to_onnx(est, X_int, options={id(est): {"zipmap": False}})
    _, outputs = _run(ort, model, X_int)
    _assert_outputs_equal(outputs, _expected(est, X_int.astype(np.float32)), np.float32)


def test_onnx_string_labels_and_skl2onnx_zipmap(ort):
    skl2onnx = pytest.importorskip("skl2onnx", reason="skl2onnx conversion needs the onnx extra")
    X, y = _data("multiclass", np.float32)
    labels = np.array(["ant", "bee", "cat"])[y]
    est = fastmlp.MLPClassifier((6,), max_iter=20, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, labels)
    _, (label, proba) = _run(ort, fastmlp.to_onnx(est, X), X)
    np.testing.assert_array_equal(label, est.predict(X))
    # Default skl2onnx options: a ZipMap of {class: probability} per row, as for scikit-learn.
    names, (label, maps) = _run(ort, skl2onnx.to_onnx(est, X), X)
    assert names == ["output_label", "output_probability"]
    np.testing.assert_array_equal(label, est.predict(X))
    proba = est.predict_proba(X)
    for row, mapping in zip(proba, maps):
        np.testing.assert_allclose([mapping[c] for c in est.classes_], row, atol=1e-5)


def test_onnx_refuses_what_it_cannot_export():
    pytest.importorskip("onnx", reason="ONNX export needs the onnx extra")
    with pytest.raises(NotFittedError):
        fastmlp.to_onnx(fastmlp.MLPClassifier(), np.zeros((2, 3)))
    with pytest.raises(TypeError, match="Network, MLPClassifier or MLPRegressor"):
        fastmlp.to_onnx(neural_network.MLPClassifier(), np.zeros((2, 3)))


IMPORT_FASTMLP_FIRST = """
    import fastmlp
    heavy = [m for m in ("onnx", "skl2onnx", "onnxruntime", "torch") if m in sys.modules]
    assert not heavy, heavy
    import importlib.util
    assert importlib.util.find_spec("skl2onnx")  # a look, as tests/test_docs.py takes
    import skl2onnx
"""


@pytest.mark.parametrize(
    "imports",
    [IMPORT_FASTMLP_FIRST, "import skl2onnx\nimport fastmlp\n"],
    ids=["fastmlp_first", "skl2onnx_first"],
)
def test_import_registers_skl2onnx_converters(ort, imports):
    pytest.importorskip("skl2onnx", reason="skl2onnx conversion needs the onnx extra")
    script = (
        "import sys\n"
        + textwrap.dedent(imports)
        + textwrap.dedent("""
        import numpy as np
        import onnxruntime
        X = np.random.RandomState(0).randn(20, 3)
        est = fastmlp.MLPRegressor(hidden_layer_sizes=(4,), max_iter=2).fit(X, X[:, 0])
        model = skl2onnx.to_onnx(est, X)
        session = onnxruntime.InferenceSession(model.SerializeToString(),
                                               providers=["CPUExecutionProvider"])
        got = session.run(None, {"X": X})[0].ravel()
        assert np.abs(got - est.predict(X)).max() < 1e-10
        print("converted")
    """)
    )
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", script], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert "converted" in result.stdout


# ==== scikit-learn ============================================================================
SKLEARN_TASKS = ("binary", "multiclass", "multilabel", "regression", "poisson")


def _sklearn_class(est):
    return getattr(neural_network, type(est).__name__)


def _assert_same_predictions(a, b, X, atol):
    if hasattr(a, "predict_proba"):
        np.testing.assert_array_equal(a.predict(X), b.predict(X))
        np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=0, atol=atol)
    else:
        np.testing.assert_allclose(a.predict(X), b.predict(X), rtol=0, atol=atol)


@pytest.mark.parametrize("task", SKLEARN_TASKS)
@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu"])
@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_to_sklearn_predicts_identically(task, activation):
    est, X = _fit(task, np.float64, activation)
    est.feature_names_in_ = np.array([f"x{i}" for i in range(X.shape[1])], dtype=object)
    sk = est.to_sklearn()
    assert type(sk) is _sklearn_class(est)
    for W, W_sk in zip(est.coefs_, sk.coefs_):
        np.testing.assert_array_equal(W, W_sk)
        assert not np.shares_memory(W, W_sk)
    for name in (
        "n_layers_",
        "n_outputs_",
        "out_activation_",
        "n_iter_",
        "loss_",
        "n_features_in_",
    ):
        assert getattr(sk, name) == getattr(est, name)
    np.testing.assert_array_equal(sk.feature_names_in_, est.feature_names_in_)
    assert sk.get_params()["hidden_layer_sizes"] == est.hidden_layer_sizes
    if task not in ("regression", "poisson"):
        np.testing.assert_array_equal(sk.classes_, est.classes_)
    _assert_same_predictions(est, sk, X, 1e-12)


def test_to_sklearn_float32_and_training_settings_sklearn_lacks():
    est, X = _fit("multiclass", np.float32, solver="rmsprop", learning_rate="cosine")
    sk = est.to_sklearn()
    assert sk.coefs_[0].dtype == np.float32
    assert (sk.solver, sk.learning_rate) == ("adam", "constant")  # scikit-learn's defaults
    _assert_same_predictions(est, sk, X, 1e-5)


@pytest.mark.parametrize(
    "activation, match",
    [
        (["relu", "tanh"], "one activation for all hidden layers"),
        ("leaky_relu", "no \\['leaky_relu'\\] activation"),
        ("elu", "no \\['elu'\\] activation"),
    ],
)
def test_to_sklearn_refuses_what_sklearn_lacks(activation, match):
    est, _ = _fit("binary", np.float64, activation)
    with pytest.raises(ValueError, match=match):
        est.to_sklearn()


def test_to_sklearn_refuses_unfitted():
    with pytest.raises(NotFittedError):
        fastmlp.MLPRegressor().to_sklearn()


@pytest.mark.parametrize("task", SKLEARN_TASKS)
def test_from_sklearn_predicts_identically(task):
    X, y = _data(task, np.float64)
    if task in ("regression", "poisson"):
        loss = "poisson" if task == "poisson" else "squared_error"
        sk = neural_network.MLPRegressor(
            loss=loss, hidden_layer_sizes=(6, 3), activation="tanh", max_iter=20, random_state=0
        )
        cls = fastmlp.MLPRegressor
    else:
        sk = neural_network.MLPClassifier(
            hidden_layer_sizes=(6, 3),
            activation="logistic",
            max_iter=20,
            random_state=0,
            alpha=0.01,
        )
        cls = fastmlp.MLPClassifier
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk.fit(X, y)
    est = cls.from_sklearn(sk)
    assert type(est) is cls
    assert est.get_params()["alpha"] == sk.alpha
    assert est.get_params()["activation"] == sk.activation
    for W, W_sk in zip(est.coefs_, sk.coefs_):
        np.testing.assert_array_equal(W, W_sk)
    assert est.loss_curve_ == sk.loss_curve_ and est.n_iter_ == sk.n_iter_
    _assert_same_predictions(sk, est, X, 1e-12)
    # The round trip gives back scikit-learn's weights.
    back = est.to_sklearn()
    for W, W_sk in zip(back.coefs_, sk.coefs_):
        np.testing.assert_array_equal(W, W_sk)
    # A converted estimator trains on from where scikit-learn stopped.
    before = est.coefs_[0].copy()
    est.partial_fit(X, y)
    assert not np.array_equal(before, est.coefs_[0])


def test_from_sklearn_refuses_unfitted_and_wrong_kind():
    with pytest.raises(NotFittedError):
        fastmlp.MLPClassifier.from_sklearn(neural_network.MLPClassifier())
    with pytest.raises(TypeError, match="expects a scikit-learn MLPRegressor"):
        fastmlp.MLPRegressor.from_sklearn(neural_network.MLPClassifier())


# ==== PyTorch =================================================================================
@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch", reason="PyTorch conversion needs the torch extra")


TORCH_ATOL = {np.float32: 1e-5, np.float64: 1e-12}
OUTPUT_LOSSES = {
    "identity": "squared_error",
    "logistic": "binary_log_loss",
    "softmax": "log_loss",
    "exp": "poisson",
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("output", list(OUTPUT_LOSSES))
def test_torch_round_trip(torch, output, dtype):
    net = fastmlp.Network(
        [4, 6, 6, 6, 6, 6, 6, 3],
        activation=list(HIDDEN),
        output_activation=output,
        loss=OUTPUT_LOSSES[output],
        dtype=dtype.__name__,
        random_state=0,
        leaky_slope=0.2,
        elu_alpha=0.6,
    )
    X = np.random.RandomState(0).randn(25, 4).astype(dtype)
    seq = net.to_torch()
    assert isinstance(seq, torch.nn.Sequential)
    with torch.no_grad():
        got = seq(torch.from_numpy(X)).numpy()
    assert got.dtype == dtype
    np.testing.assert_allclose(got, net.forward(X), rtol=0, atol=TORCH_ATOL[dtype])
    back = fastmlp.Network.from_torch(seq)
    assert back.activation == net.activation and back.output_activation == output
    assert (back.leaky_slope, back.elu_alpha, back.loss) == (0.2, 0.6, net.loss)
    assert back.dtype == net.dtype
    np.testing.assert_array_equal(back.params, net.params)
    # The exp output module pickles with the Sequential.
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(seq))(torch.from_numpy(X)).detach().numpy(), got
    )


def test_from_torch_reads_a_handmade_sequential(torch):
    nn = torch.nn
    torch.manual_seed(0)
    seq = nn.Sequential(
        nn.Linear(3, 5),
        nn.LeakyReLU(0.2),
        nn.Linear(5, 4),
        nn.ELU(0.5),
        nn.Linear(4, 4),
        nn.Linear(4, 2, bias=False),
        nn.Softmax(dim=1),
    ).double()
    net = fastmlp.Network.from_torch(seq)
    assert net.activation == ["leaky_relu", "elu", "identity"]
    assert (net.output_activation, net.loss, net.dtype) == ("softmax", "log_loss", np.float64)
    X = np.random.RandomState(1).randn(10, 3)
    with torch.no_grad():
        np.testing.assert_allclose(net.forward(X), seq(torch.from_numpy(X)).numpy(), atol=1e-12)
    assert (
        fastmlp.Network.from_torch(seq, loss="squared_error", dtype="float32").dtype == np.float32
    )


@pytest.mark.parametrize(
    "build, error, match",
    [
        (
            lambda nn: nn.Sequential(nn.Linear(3, 4), nn.GELU(), nn.Linear(4, 1)),
            ValueError,
            "not a supported hidden activation",
        ),
        (
            lambda nn: nn.Sequential(nn.Linear(3, 4), nn.ReLU()),
            ValueError,
            "cannot be the output activation",
        ),
        (
            lambda nn: nn.Sequential(nn.Linear(3, 4), nn.Softmax(dim=0)),
            ValueError,
            "cannot be the output activation",
        ),
        (
            lambda nn: nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Tanh(), nn.Linear(4, 1)),
            ValueError,
            "a second activation",
        ),
        (
            lambda nn: nn.Sequential(nn.ReLU(), nn.Linear(3, 1)),
            ValueError,
            "before the first Linear",
        ),
        (
            lambda nn: nn.Sequential(
                nn.Linear(3, 4),
                nn.LeakyReLU(0.1),
                nn.Linear(4, 4),
                nn.LeakyReLU(0.2),
                nn.Linear(4, 1),
            ),
            ValueError,
            "one leaky_relu parameter",
        ),
        (lambda nn: nn.Sequential(nn.Linear(3, 4), nn.Linear(5, 1)), ValueError, "5 inputs"),
        (lambda nn: nn.Sequential(), ValueError, "no Linear layer"),
        (lambda nn: nn.Linear(3, 1), TypeError, "expects a torch.nn.Sequential"),
    ],
)
def test_from_torch_refuses_unsupported_modules(torch, build, error, match):
    with pytest.raises(error, match=match):
        fastmlp.Network.from_torch(build(torch.nn))


def test_estimator_to_torch(torch):
    for task in ("binary", "multiclass", "poisson"):
        est, X = _fit(task, np.float64, "elu")
        with torch.no_grad():
            got = est.to_torch()(torch.from_numpy(X)).numpy()
        want = est.predict_proba(X)[:, 1:] if task == "binary" else _expected(est, X)[-1]
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


# ==== batch norm and PReLU ====================================================================
LAYER_KINDS = [
    dict(batch_norm=True),
    dict(activation="prelu"),
    dict(batch_norm=True, activation="prelu"),
]


def _fit_layer_kinds(task, dtype, kinds):
    # Enough epochs that running statistics, scales and slopes move away from their start.
    return _fit(task, dtype, hidden=(7, 5), **{"activation": "relu", **kinds})


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("task", ["multiclass", "regression"])
@pytest.mark.parametrize("kinds", LAYER_KINDS, ids=["batch_norm", "prelu", "both"])
def test_onnx_exports_batch_norm_folded_and_prelu(ort, kinds, task, dtype):
    est, X = _fit_layer_kinds(task, dtype, kinds)
    net = est._net
    if net.slopes[0] is not None:
        assert not np.allclose(net.slopes[0], 0.25)  # trained slopes, not their start
    _, outputs = _run(ort, fastmlp.to_onnx(est, X), X)
    _assert_outputs_equal(outputs, _expected(est, X), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kinds", LAYER_KINDS, ids=["batch_norm", "prelu", "both"])
def test_torch_exports_batch_norm_folded_and_prelu(torch, kinds, dtype):
    est, X = _fit_layer_kinds("multiclass", dtype, kinds)
    seq = est.to_torch()
    with torch.no_grad():
        out = seq(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(out, est._net.forward(X), rtol=0, atol=ONNX_ATOL[dtype])


def test_to_sklearn_folds_batch_norm_and_refuses_prelu():
    est, X = _fit_layer_kinds("multiclass", np.float64, dict(batch_norm=True))
    sk = est.to_sklearn()
    np.testing.assert_allclose(sk.predict_proba(X), est.predict_proba(X), rtol=0, atol=1e-12)
    prelu, _ = _fit_layer_kinds("multiclass", np.float64, dict(activation="prelu"))
    with pytest.raises(ValueError, match="prelu"):
        prelu.to_sklearn()
