"""Property-based tests (hypothesis): the compiled path equals the reference on random
networks, and random junk at every public entry point gets a clear error.

Hypothesis draws the structure (depth, widths, activations, output/loss pair, dtype, batch
sizes, which sample weights are zero, which junk where); NumPy draws the values from a seed
hypothesis picks, so shrinking acts on the structure. Profiles are in ``conftest.py``:
``ci`` by default, ``HYPOTHESIS_PROFILE=long`` for the long run.

Tolerances (max |difference| over the larger array's max magnitude, as
``fastmlp.gradcheck.relative_error``): float64 1e-10, float32 1e-4. The kernels and the
float64 reference differ by round-off only: each layer's dot products sum at most 70 terms,
so a layer adds at most ~70 eps relative error (float32: 70 x 6e-8 = 4e-6; float64: 1e-14),
and five layers stay below 1e-4 (float32) and far below 1e-10 (float64), which leaves room
for the activations' and losses' conditioning.
"""

import re
import warnings

import numpy as np
import pytest
from _helpers import pack, replay, spec, unpack
from hypothesis import assume, given
from hypothesis import strategies as st
from sklearn.utils import check_random_state

import fastmlp
from fastmlp import MLPClassifier, MLPRegressor, Network, reference
from fastmlp.gradcheck import relative_error
from fastmlp.kernels.codes import HIDDEN_ACTIVATIONS as ALL_HIDDEN_ACTIVATIONS
from fastmlp.network import LOSS_OUTPUTS
from fastmlp.training import DivergenceError

# The activations the plain reference (coefs and intercepts only) computes: PReLU's learned
# slopes are checked against reference.loss_and_grad_blocks in test_batch_norm.py.
HIDDEN_ACTIVATIONS = tuple(a for a in ALL_HIDDEN_ACTIVATIONS if a != "prelu")

TOLERANCE = {"float64": 1e-10, "float32": 1e-4}
PAIRS = [(out, loss) for loss, outs in LOSS_OUTPUTS.items() for out in outs]
KINKED = ("relu", "leaky_relu")  # derivative jumps at 0 (elu's default alpha=1 is C1)
NO_STOP = dict(tol=0.0, n_iter_no_change=1000)
OPTIMIZERS = {
    "sgd": dict(solver="sgd", learning_rate_init=0.1, momentum=0.8, nesterovs_momentum=False),
    "sgd_nesterov": dict(solver="sgd", learning_rate_init=0.1, momentum=0.7),
    "adam": dict(solver="adam", learning_rate_init=0.01, beta_1=0.8, beta_2=0.99),
    "adamw": dict(solver="adamw", learning_rate_init=0.01, weight_decay=0.3),
    "adagrad": dict(solver="adagrad", learning_rate_init=0.1),
    "rmsprop": dict(solver="rmsprop", learning_rate_init=0.01, rho=0.8),
}


# ---- random problems -------------------------------------------------------------------------
@st.composite
def problems(draw, max_rows=24):
    """A random network, data for it and sample weights (None, or with zeros)."""
    depth = draw(st.integers(1, 4))
    widths = draw(st.lists(st.integers(1, 70), min_size=depth, max_size=depth))
    hidden = draw(st.lists(st.sampled_from(HIDDEN_ACTIVATIONS), min_size=depth, max_size=depth))
    output, loss = draw(st.sampled_from(PAIRS))
    # one softmax output is constantly 1 (refused by Network: see the junk tests)
    n_in, n_out = draw(st.integers(1, 8)), draw(st.integers(2 if output == "softmax" else 1, 6))
    dtype = draw(st.sampled_from(["float64", "float32"]))
    n = draw(st.integers(1, max_rows))
    seed = draw(st.integers(0, 2**32 - 1))
    net = Network(
        [n_in, *widths, n_out],
        activation=hidden,
        output_activation=output,
        loss=loss,
        dtype=dtype,
        random_state=seed,
    )
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, n_in)).astype(dtype)
    Y = _targets(rng, net.loss, n, n_out).astype(dtype)
    sw = None
    if draw(st.booleans()):
        sw = rng.uniform(0.1, 3.0, n).astype(dtype)
        sw[rng.uniform(size=n) < draw(st.sampled_from([0.0, 0.3, 0.7]))] = 0.0
        sw[rng.randint(n)] = 1.0  # a positive total
    return net, X, Y, sw


def _targets(rng, loss, n, k):
    if loss == "log_loss":
        return np.eye(k)[rng.randint(k, size=n)]
    if loss == "binary_log_loss":
        return rng.randint(0, 2, size=(n, k)).astype(float)
    if loss == "poisson":
        return rng.poisson(1.5, size=(n, k)).astype(float)
    return rng.normal(size=(n, k))


def _hidden_preactivations(net, X):
    """Z of each hidden layer in float64 from the network's own (rounded) parameters."""
    coefs, intercepts = unpack(net.params.astype(np.float64), list(net.layer_sizes))
    A, Zs = X.astype(np.float64), []
    for W, b, name in zip(coefs[:-1], intercepts[:-1], net.hidden_activations):
        Z = A @ W + b
        Zs.append((name, Z))
        A = reference.activation(name, Z, net.activation_param(name))
    return Zs


def _assume_no_kink_hit(net, X):
    """Skip draws with a relu-family pre-activation within round-off of its kink.

    There the kernel (in float32) and the reference may take different sides, and the
    gradients differ by a whole unit's contribution: a property of the function, not a bug.
    """
    margin = 1e3 * np.finfo(net.dtype).eps
    for name, Z in _hidden_preactivations(net, X):
        if name in KINKED:
            assume(np.min(np.abs(Z)) > margin * max(1.0, np.max(np.abs(Z))))


def _reference_forward(net, X):
    coefs, intercepts = unpack(net.params.astype(np.float64), list(net.layer_sizes))
    params = [net.activation_param(a) for a in net.hidden_activations] + [None]
    return reference.forward(
        coefs,
        intercepts,
        X.astype(np.float64),
        net.hidden_activations,
        net.output_activation,
        activation_params=params,
    )[-1]


# ---- compiled path against the reference -------------------------------------------------
@given(problems(max_rows=40), st.data())
def test_forward_equals_reference(problem, data):
    net, X, _, _ = problem
    chunk = data.draw(st.integers(1, X.shape[0]), label="chunk_size")  # a short last chunk
    out = net.forward(X, chunk_size=chunk)
    assert out.dtype == net.dtype and out.shape == (X.shape[0], net.layer_sizes[-1])
    assert relative_error(out, _reference_forward(net, X)) <= TOLERANCE[net.dtype.name]


@given(problems(), st.sampled_from([0.0, 0.3]))
def test_loss_and_grad_equal_reference(problem, alpha):
    net, X, Y, sw = problem
    _assume_no_kink_hit(net, X)
    loss, grad = net.loss_and_grad(X, Y, sample_weight=sw, alpha=alpha)
    coefs, intercepts = unpack(net.params.astype(np.float64), list(net.layer_sizes))
    ref_loss, gW, gb = reference.loss_and_grad(
        coefs,
        intercepts,
        X.astype(np.float64),
        Y.astype(np.float64),
        net.hidden_activations,
        net.output_activation,
        net.loss,
        sample_weight=sw,
        alpha=alpha,
    )
    tolerance = TOLERANCE[net.dtype.name]
    assert grad.dtype == net.dtype
    assert abs(loss - ref_loss) <= tolerance * max(abs(ref_loss), 1.0)
    assert relative_error(grad, pack(gW, gb)) <= tolerance


@given(problems(), st.sampled_from(sorted(OPTIMIZERS)), st.data())
def test_training_steps_equal_reference_steps(problem, optimizer, data):
    """One step (float32) or one epoch of steps with a short last batch (float64).

    In float32 the kernel's parameters after a step are rounded, the replay's are not: a
    later step could then land on the other side of a relu kink; one step cannot.
    """
    net, X, Y, sw = problem
    n = X.shape[0]
    _assume_no_kink_hit(net, X)
    batch = n if net.dtype == np.float32 else data.draw(st.integers(1, n), label="batch_size")
    if sw is not None and batch < n:
        # a minibatch of zero weights diverges: test_a_minibatch_whose_weights_are_all_zero...
        assume(np.all(sw > 0))
    options = OPTIMIZERS[optimizer]
    # adam, adamw, adagrad and rmsprop divide by sqrt(state) + epsilon: the round-off of a
    # near-zero gradient (~ the dtype's eps x the gradient's scale) is amplified by
    # 1/epsilon; this epsilon keeps that below the tolerance (for lr <= 0.1).
    options = dict(options, epsilon=1e-3 if net.dtype == np.float32 else 1e-5)
    params0 = net.params.astype(np.float64)
    with np.errstate(all="ignore"):
        w, losses, _, _ = replay(
            params0,
            X,
            Y,
            spec(net),
            epochs=1,
            batch_size=batch,
            sample_weight=sw,
            shuffle_rng=check_random_state(7),
            **options,
        )
    try:
        history = net.fit(
            X,
            Y,
            sample_weight=sw,
            batch_size=batch,
            max_iter=1,
            shuffle=True,
            random_state=7,
            **NO_STOP,
            **options,
        )
    except DivergenceError:
        # a large rate on a deep linear net can diverge: so must the replay, and the
        # weights go back to those before the epoch
        assert not (np.all(np.isfinite(w)) and np.isfinite(losses[0]))
        assert np.array_equal(net.params, params0.astype(net.dtype))
        return
    tolerance = TOLERANCE[net.dtype.name]
    assert relative_error(net.params, w) <= tolerance
    assert abs(history.loss[0] - losses[0]) <= tolerance * max(abs(losses[0]), 1.0)


# ---- random junk at every public entry point ------------------------------------------------
# Each kind of bad array, how to make it from a good (n, k) float array, and what a message
# about it must mention. ``None`` as the pattern: the input may also be accepted, if the
# result is finite (bool arrays are numbers); so may huge values, which need not overflow.
HUGE = {"float64": 1e300, "float32": 1e38}
JUNK = {
    "scalar": (lambda a: a.ravel()[0], r"2d|dim|scalar|shape"),
    "1-d": (lambda a: a.ravel(), r"2d|1d|dim|shape|reshape"),
    "3-d": (lambda a: a[..., None], r"dim 3|3d|dim|shape"),
    "object": (lambda a: np.where(a > 0, None, a).astype(object), r"nan|number|dtype|object"),
    "str": (lambda a: np.char.add("x", a.astype(str)), r"number|dtype|string|str|convert"),
    "complex": (lambda a: a + 1j, r"complex"),
    "bool": (lambda a: a > 0, None),
    "nan": (lambda a: np.where(a > a.min(), a, np.nan), r"nan"),
    "inf": (lambda a: np.where(a > a.min(), a, -np.inf), r"inf"),
    "no rows": (lambda a: a[:0], r"0 sample|empty|minimum|at least"),
    "no columns": (lambda a: a[:, :0], r"0 feature|column|empty|minimum|expects"),
    "extra row": (lambda a: np.vstack([a, a[:1]]), r"rows|inconsistent|samples|shape|length"),
    "ragged list": (
        lambda a: [list(r) for r in a[:-1]] + [list(a[-1][:-1])],
        r"inhomogeneous|sequence|shape|ragged|setting an array",
    ),
    "none": (lambda a: None, r"none|array|expected|2d"),
}
HUGE_PATTERN = r"overflow|large|non-finite|diverge|infinity"
# The estimators' y is 1-D, may be bool, and a classifier's labels may be any values.
ACCEPTED_AS_Y = ("1-d", "bool")
ACCEPTED_AS_LABELS = ("object", "str", "huge")
SAMPLE_WEIGHT_JUNK = {
    "negative": (lambda w: -w, r"negative"),
    "zero sum": (lambda w: 0 * w, r"zero|non-zero|positive"),
    "nan": (lambda w: np.where(w > w.min(), w, np.nan), r"nan"),
    "inf": (lambda w: np.where(w > w.min(), w, np.inf), r"inf"),
    "wrong length": (lambda w: w[:-1], r"shape|length|inconsistent|samples"),
    "2-d": (lambda w: w[:, None], r"shape|1d|dim"),
    "str": (lambda w: np.char.add("x", w.astype(str)), r"number|dtype|string|str|convert"),
    "complex": (lambda w: w + 1j, r"complex"),
}


def _finite(result):
    """Every number in what a call returned (arrays, floats, tuples, estimators) is finite."""
    if isinstance(result, (MLPClassifier, MLPRegressor)):
        result = result.coefs_ + result.intercepts_
    if isinstance(result, Network):
        result = result.params
    if hasattr(result, "loss") and hasattr(result, "grad_norm"):  # a fit's History
        result = result.loss
    if isinstance(result, (tuple, list)):
        return all(_finite(r) for r in result)
    if hasattr(result, "kernel_vs_reference"):  # a GradientCheck
        return np.isfinite(result.kernel_vs_reference)
    values = np.asarray(result)
    return values.dtype.kind not in "fc" or bool(np.all(np.isfinite(values)))


def _check_refused(call, pattern, may_succeed=False):
    """``call`` raises ValueError/TypeError whose message matches ``pattern`` (any message
    if None); with ``may_succeed`` it may instead return a finite result."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = call()
        except (ValueError, TypeError) as exc:
            message = str(exc)
            assert message and (pattern is None or re.search(pattern, message, re.I)), (
                f"{type(exc).__name__} does not name the problem ({pattern}): {message}"
            )
            return
    assert may_succeed, f"junk accepted, returned {result!r:.200}"
    assert _finite(result), f"silent non-finite result: {result!r:.200}"


def _small_problem(dtype, classes=False, seed=0, n=12, n_in=3, n_out=2):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, n_in)).astype(dtype)
    if classes:
        return X, np.arange(n) % 3
    return X, rng.uniform(0.1, 1.0, size=(n, n_out)).astype(dtype)


def _net_calls(dtype):
    """Entry points of Network and check_gradients, as f(X, Y, sample_weight)."""
    net = Network([3, 4, 2], activation="tanh", dtype=dtype, random_state=0)
    return {
        "forward": lambda X, Y, sw: net.forward(X),
        "loss_and_grad": lambda X, Y, sw: net.loss_and_grad(X, Y, sample_weight=sw),
        "fit": lambda X, Y, sw: net.fit(X, Y, sample_weight=sw, max_iter=2, batch_size=5),
        "check_gradients": lambda X, Y, sw: fastmlp.check_gradients(net, X, Y, sw),
    }


def _estimator_calls(dtype):
    """Entry points of the estimators, as f(X, y, sample_weight); y is 1-D."""
    Xc, yc = _small_problem(dtype, classes=True)
    settings = dict(hidden_layer_sizes=(4,), max_iter=2, random_state=0)
    clf = MLPClassifier(**settings).fit(Xc, yc)
    reg = MLPRegressor(**settings).fit(Xc, yc.astype(dtype))
    return {
        "MLPClassifier.fit": lambda X, y, sw: MLPClassifier(**settings).fit(X, y, sw),
        "MLPRegressor.fit": lambda X, y, sw: MLPRegressor(**settings).fit(X, y, sw),
        "MLPClassifier.partial_fit": lambda X, y, sw: MLPClassifier(**settings).partial_fit(
            X, y, sw, classes=[0, 1, 2]
        ),
        "MLPRegressor.partial_fit": lambda X, y, sw: MLPRegressor(**settings).partial_fit(X, y, sw),
        "MLPClassifier.predict": lambda X, y, sw: clf.predict(X),
        "MLPClassifier.predict_proba": lambda X, y, sw: clf.predict_proba(X),
        "MLPRegressor.predict": lambda X, y, sw: reg.predict(X),
    }


def _takes_targets(name):
    return not any(word in name for word in ("forward", "predict"))


DTYPE = st.sampled_from(["float64", "float32"])


@given(DTYPE, st.sampled_from(sorted(JUNK) + ["huge"]), st.booleans(), st.data())
def test_junk_arrays_get_a_clear_error(dtype, kind, in_targets, data):
    """Junk X (or junk Y/y) at each entry point of Network, the estimators, check_gradients."""
    estimators = data.draw(st.booleans(), label="estimators")
    calls = _estimator_calls(dtype) if estimators else _net_calls(dtype)
    name = data.draw(st.sampled_from(sorted(calls)), label="entry point")
    X, Y = _small_problem(dtype, classes=estimators)
    y = Y
    if estimators and "Regressor" in name:
        y = Y.astype(dtype)
    in_targets = in_targets and _takes_targets(name)
    good = (y if in_targets else X).reshape(X.shape[0], -1).astype(dtype)  # 2-D, floats
    if kind == "huge":
        sign = np.where(np.arange(good.size).reshape(good.shape) % 2, -1, 1)
        bad, pattern = (sign * HUGE[dtype]).astype(dtype), HUGE_PATTERN
    else:
        make, pattern = JUNK[kind]
        bad = make(good)
    may_succeed = pattern in (None, HUGE_PATTERN)
    if (
        in_targets
        and estimators
        and (kind in ACCEPTED_AS_Y or ("Classifier" in name and kind in ACCEPTED_AS_LABELS))
    ):
        pattern, may_succeed = None, True
    if kind == "extra row" and not _takes_targets(name):
        may_succeed = True  # one more row to predict is no mistake
    args = (X, bad) if in_targets else (bad, y)
    _check_refused(lambda: calls[name](*args, None), pattern, may_succeed)


@given(DTYPE, st.sampled_from(sorted(SAMPLE_WEIGHT_JUNK)), st.data())
def test_junk_sample_weights_get_a_clear_error(dtype, kind, data):
    estimators = data.draw(st.booleans(), label="estimators")
    calls = _estimator_calls(dtype) if estimators else _net_calls(dtype)
    name = data.draw(
        st.sampled_from([n for n in sorted(calls) if _takes_targets(n)]), label="entry point"
    )
    X, y = _small_problem(dtype, classes=estimators)
    if estimators and "Regressor" in name:
        y = y.astype(dtype)
    make, pattern = SAMPLE_WEIGHT_JUNK[kind]
    sw = make(np.random.RandomState(1).uniform(0.5, 2.0, X.shape[0]))
    _check_refused(lambda: calls[name](X, y, sw), pattern)


# Bad option values, one per entry point and option: (entry point, option, values).
BAD_OPTIONS = [
    (
        "Network",
        "layer_sizes",
        [[], [3], [3, 0, 2], [3, -1, 2], [3, 2.5, 2], "32", None, [3, True, 2], [3, "a", 2]],
    ),
    ("Network", "activation", ["nope", None, 3, ["relu", "nope"], ["relu"] * 3, "softmax"]),
    ("Network", "output_activation", ["nope", None, "relu", 1]),
    ("Network", "loss", ["nope", None, "hinge", 0]),
    ("Network", "dtype", ["float16", "int32", None, "complex128", object]),
    ("Network", "init", ["nope", None, 1]),
    ("Network", "leaky_slope", [0.0, -1.0, np.nan, "a"]),
    ("Network", "elu_alpha", [0.0, -1.0, np.nan, "a"]),
    ("forward", "chunk_size", [0, -1, 1.5, "a", None, np.nan]),
    ("loss_and_grad", "alpha", [-1.0, np.nan, np.inf, "a", None]),
    ("loss_and_grad", "l1", [-1.0, np.nan, np.inf, "a"]),
    ("loss_and_grad", "loss_scale", [0.0, -1.0, np.nan, np.inf, "a", None]),
    ("fit", "solver", ["nope", None, 1, "lbfgs"]),
    ("fit", "learning_rate_init", [0.0, -1.0, np.nan, np.inf, "a"]),
    ("fit", "batch_size", [0, -1, 2.5, "a", None, np.nan]),
    ("fit", "max_iter", [0, -1, 2.5, "a", np.inf]),
    ("fit", "learning_rate", ["nope", None]),
    ("fit", "momentum", [-0.1, 1.5, np.nan]),
    ("fit", "beta_1", [1.0, -0.1, np.nan]),
    ("fit", "epsilon", [0.0, -1.0, np.nan]),
    ("fit", "dropout", [1.0, -0.1, [0.1, 0.2], np.nan, "a"]),
    ("fit", "max_grad_norm", [0.0, -1.0, np.nan]),
    ("fit", "tol", [-1.0, np.nan, np.inf]),
    ("fit", "n_iter_no_change", [0, -1, 2.5]),
    ("fit", "validation_fraction", [0.0, 1.0, -0.5, np.nan]),
    ("check_gradients", "eps", [0.0, -1e-6, np.nan, np.inf, "a"]),
    ("check_gradients", "kernel_tolerance", [-1.0, np.nan]),
    ("check_gradients", "finite_difference_tolerance", [-1.0, np.nan]),
    ("check_gradients", "net", [None, "net", MLPClassifier()]),
    ("MLPClassifier", "hidden_layer_sizes", [(0,), (-1,), (2.5,), "a"]),
    ("MLPClassifier", "activation", ["nope", None]),
    ("MLPClassifier", "solver", ["nope"]),
    ("MLPClassifier", "alpha", [-1.0, np.nan]),
    ("MLPClassifier", "batch_size", [0, "a"]),
    ("MLPClassifier", "learning_rate_init", [0.0, -1.0]),
    ("MLPClassifier", "max_iter", [0, -1]),
    ("MLPRegressor", "loss", ["nope", None]),
    ("MLPRegressor", "dropout", [1.0, -0.5]),
    ("MLPRegressor", "max_grad_norm", [0.0, -1.0]),
]
OPTION_CASES = [(where, option, value) for where, option, values in BAD_OPTIONS for value in values]


def _call_with(where, option, value, dtype):
    X, Y = _small_problem(dtype)
    if where == "Network":
        kwargs = dict(layer_sizes=[3, 4, 2], dtype=dtype)
        kwargs[option] = value
        return lambda: Network(**kwargs)
    net = Network([3, 4, 2], activation="tanh", dtype=dtype, random_state=0)
    if where == "forward":
        return lambda: net.forward(X, **{option: value})
    if where == "loss_and_grad":
        return lambda: net.loss_and_grad(X, Y, **{option: value})
    if where == "fit":
        extra = {"early_stopping": True} if option == "validation_fraction" else {}
        return lambda: net.fit(X, Y, max_iter=2, **extra, **{option: value})
    if where == "check_gradients":
        if option == "net":
            return lambda: fastmlp.check_gradients(value, X, Y)
        return lambda: fastmlp.check_gradients(net, X, Y, **{option: value})
    Estimator = MLPClassifier if where == "MLPClassifier" else MLPRegressor
    y = np.arange(X.shape[0]) % 2 if where == "MLPClassifier" else Y[:, 0]
    settings = dict(hidden_layer_sizes=(4,), max_iter=2, random_state=0)
    settings[option] = value
    return lambda: Estimator(**settings).fit(X, y)


@given(st.sampled_from(OPTION_CASES), DTYPE)
def test_bad_option_values_get_an_error_naming_the_option(case, dtype):
    where, option, value = case
    named = re.escape(option).replace("_", "[ _]")  # "output activation" names it too
    _check_refused(_call_with(where, option, value, dtype), named)


@given(
    st.sampled_from(
        [
            "Network",
            "forward",
            "loss_and_grad",
            "fit",
            "check_gradients",
            "MLPClassifier",
            "MLPRegressor",
        ]
    ),
    st.sampled_from(["colour", "n_layers", "learning_rate_int", "sample_weights"]),
    DTYPE,
)
def test_unknown_option_names_get_a_type_error_naming_them(where, option, dtype):
    call = _call_with(where, option, 1, dtype)
    with pytest.raises(TypeError, match=re.escape(option)):
        call()


# ---- the defects these properties found, pinned down one by one -----------------------------
@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_estimators_refuse_negative_sample_weights(Estimator, method):
    X, _ = _small_problem("float64")
    y = np.arange(X.shape[0]) % 2
    sw = np.ones(X.shape[0])
    sw[3] = -1.0
    kwargs = {"classes": [0, 1]} if (method, Estimator) == ("partial_fit", MLPClassifier) else {}
    with pytest.raises(ValueError, match="[Nn]egative"):
        getattr(Estimator(max_iter=2), method)(X, y, sample_weight=sw, **kwargs)


def test_regressor_refuses_none_in_an_object_y():
    X, _ = _small_problem("float64")
    y = np.arange(X.shape[0], dtype=float).astype(object)
    y[2] = None
    with pytest.raises(ValueError, match="y contains NaN"):
        MLPRegressor(max_iter=2).fit(X, y)


def test_hidden_layer_sizes_must_be_integers():
    X, _ = _small_problem("float64")
    with pytest.raises(ValueError, match=r"hidden_layer_sizes must hold integers.*2\.5"):
        MLPClassifier(hidden_layer_sizes=(2.5,)).fit(X, np.arange(X.shape[0]) % 2)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(eps=0.0), ValueError, "eps must be in"),
        (dict(eps=np.nan), ValueError, "eps must be a finite number"),
        (dict(kernel_tolerance=np.nan), ValueError, "kernel_tolerance"),
        (dict(finite_difference_tolerance=-1.0), ValueError, "finite_difference_tolerance"),
    ],
)
def test_check_gradients_checks_its_settings(kwargs, error, match):
    X, Y = _small_problem("float64")
    net = Network([3, 4, 2], random_state=0)
    with pytest.raises(error, match=match):
        fastmlp.check_gradients(net, X, Y, **kwargs)


def test_check_gradients_needs_a_network():
    X, Y = _small_problem("float64")
    with pytest.raises(TypeError, match="net must be a fastmlp.Network, got MLPClassifier"):
        fastmlp.check_gradients(MLPClassifier(), X, Y)


@pytest.mark.parametrize("value", [np.nan, -1.0, 0.0, "a", None])
def test_loss_scale_is_checked(value):
    X, Y = _small_problem("float64")
    with pytest.raises(ValueError, match="loss_scale"):
        Network([3, 4, 2]).loss_and_grad(X, Y, loss_scale=value)


@pytest.mark.parametrize("option", ["leaky_slope", "elu_alpha"])
def test_activation_parameters_that_are_not_numbers_are_named(option):
    with pytest.raises(ValueError, match=option):
        Network([3, 4, 2], **{option: "a"})


def test_softmax_over_one_output_is_refused():
    # Its output is constantly 1: every binary_log_loss gradient was NaN.
    with pytest.raises(ValueError, match="softmax over one output"):
        Network([3, 4, 1], output_activation="softmax", loss="binary_log_loss")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_overflow_is_an_error_not_a_nan(dtype):
    X = np.full((4, 3), HUGE[dtype], dtype=dtype)
    net = Network(
        [3, 4, 2],
        activation="identity",
        output_activation="exp",
        loss="poisson",
        dtype=dtype,
        random_state=0,
    )
    with pytest.raises(ValueError, match="overflowed"):
        net.forward(X)
    with pytest.raises(ValueError, match="overflowed"):
        net.loss_and_grad(X, np.ones((4, 2)))
    reg = MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, loss="poisson", random_state=0)
    reg.fit(np.ones((4, 3), dtype=dtype), np.ones(4))
    with pytest.raises(ValueError, match="overflowed"):
        reg.predict(X)


def test_a_minibatch_whose_weights_are_all_zero_changes_nothing():
    """Valid weights (some zero, a positive total) whose zeros fill one whole minibatch."""
    X, Y = _small_problem("float64", n=4)
    options = dict(
        solver="sgd",
        momentum=0.0,
        learning_rate_init=0.1,
        batch_size=2,
        shuffle=False,
        max_iter=1,
        **NO_STOP,
    )
    net = Network([3, 4, 2], activation="tanh", random_state=0)
    net.fit(X, Y, sample_weight=np.array([0.0, 0.0, 1.0, 1.0]), **options)
    only_weighted = Network([3, 4, 2], activation="tanh", random_state=0)
    only_weighted.fit(X[2:], Y[2:], **options)
    np.testing.assert_allclose(net.params, only_weighted.params, rtol=1e-12)
