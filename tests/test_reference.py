"""Tests of the pure NumPy reference implementation (fastmlp.reference)."""

import importlib.util
import math
import pathlib

import numpy as np
import pytest
from sklearn.metrics import log_loss as sk_log_loss
from sklearn.metrics import mean_poisson_deviance

try:
    from fastmlp import reference as ref
except ImportError:  # package not installed / not importable yet
    _path = pathlib.Path(__file__).resolve().parents[1] / "fastmlp" / "reference.py"
    _spec = importlib.util.spec_from_file_location("fastmlp_reference", _path)
    ref = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(ref)


TINY = np.finfo(np.float64).tiny


def rel_err(a, b):
    """max|a - b| relative to the larger of the two max-magnitudes."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    scale = max(np.max(np.abs(a)), np.max(np.abs(b)), TINY)
    return np.max(np.abs(a - b)) / scale


# ---------------------------------------------------------------------------
# Flat parameter vector helpers
# ---------------------------------------------------------------------------


def pack(coefs, intercepts):
    """Flatten all coefs, then all intercepts, into one vector."""
    return np.concatenate([np.ravel(W) for W in coefs] + [np.ravel(b) for b in intercepts])


def unpack(flat, layer_sizes):
    """Inverse of :func:`pack` for a network with the given layer sizes."""
    shapes = list(zip(layer_sizes[:-1], layer_sizes[1:]))
    coefs, intercepts, pos = [], [], 0
    for fan_in, fan_out in shapes:
        coefs.append(flat[pos : pos + fan_in * fan_out].reshape(fan_in, fan_out))
        pos += fan_in * fan_out
    for _, fan_out in shapes:
        intercepts.append(flat[pos : pos + fan_out].copy())
        pos += fan_out
    assert pos == flat.size
    return coefs, intercepts


def test_pack_unpack_roundtrip():
    rng = np.random.default_rng(0)
    sizes = [3, 4, 2]
    coefs = [rng.normal(size=(3, 4)), rng.normal(size=(4, 2))]
    intercepts = [rng.normal(size=4), rng.normal(size=2)]
    c2, i2 = unpack(pack(coefs, intercepts), sizes)
    for a, b in zip(coefs + intercepts, c2 + i2):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------
# Gradient check against finite differences
# ---------------------------------------------------------------------------

HIDDEN = ["identity", "logistic", "tanh", "relu", "leaky_relu", "elu", "exp"]

OUTPUT_LOSS = [
    # canonical pairs
    ("identity", "squared_error"),
    ("logistic", "binary_log_loss"),
    ("softmax", "log_loss"),
    ("exp", "poisson"),
    # non-canonical pairs (outputs stay in each loss's valid range)
    ("softmax", "squared_error"),
    ("logistic", "squared_error"),
    ("tanh", "squared_error"),
    ("exp", "squared_error"),
    ("leaky_relu", "squared_error"),
    ("elu", "squared_error"),
    ("logistic", "log_loss"),
    ("softmax", "binary_log_loss"),
    ("logistic", "poisson"),
    ("softmax", "poisson"),
]

NON_DEFAULT_PARAM = {"leaky_relu": 0.2, "elu": 0.7}
# distinct fan-in/fan-out everywhere, so a transposed matrix cannot pass
HIDDEN_SIZES = [3, 4, 2]
N_SAMPLES, N_FEATURES, N_OUTPUTS = 5, 2, 3


def make_targets(rng, loss_name, n, k):
    if loss_name == "squared_error":
        return rng.normal(size=(n, k))
    if loss_name == "log_loss":
        return np.eye(k)[rng.integers(0, k, size=n)]
    if loss_name == "binary_log_loss":
        return rng.integers(0, 2, size=(n, k)).astype(float)
    if loss_name == "poisson":
        Y = rng.uniform(0.2, 3.0, size=(n, k))
        Y[0, 0] = 0.0  # exercise the 0 * log(0) = 0 convention
        return Y
    raise AssertionError(loss_name)


def draw_problem(seed, hidden, output, depth, loss_name, params):
    """Random network and data whose pre-activations avoid any kink."""
    rng = np.random.default_rng(seed)
    sizes = [N_FEATURES] + HIDDEN_SIZES[:depth] + [N_OUTPUTS]
    hidden_acts = [hidden] * depth
    scale = 0.3 if hidden == "exp" else 0.6  # keep exp(exp(...)) moderate
    for _ in range(100):
        X = rng.normal(size=(N_SAMPLES, N_FEATURES))
        coefs = [rng.normal(scale=scale, size=(a, b)) for a, b in zip(sizes[:-1], sizes[1:])]
        intercepts = [rng.normal(scale=0.3, size=b) for b in sizes[1:]]
        with np.errstate(over="ignore", invalid="ignore"):  # rejected draws
            acts = ref.forward(coefs, intercepts, X, hidden_acts, output, params)
            pre = [A @ W + b for A, W, b in zip(acts[:-1], coefs, intercepts)]
        abs_z = np.abs(np.concatenate([Z.ravel() for Z in pre]))
        # away from the relu kink, and not saturating the outputs
        if abs_z.min() > 1e-4 and abs_z.max() < 6:
            Y = make_targets(rng, loss_name, N_SAMPLES, N_OUTPUTS)
            return X, Y, coefs, intercepts, sizes, hidden_acts
    raise AssertionError("could not draw a kink-free problem")


@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("output,loss_name", OUTPUT_LOSS)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_gradient_matches_finite_differences(hidden, output, loss_name, depth):
    seed = (HIDDEN.index(hidden) * 100 + OUTPUT_LOSS.index((output, loss_name))) * 10 + depth
    for use_weights, alpha in [(False, 0.0), (True, 0.0), (False, 0.3), (True, 0.3)]:
        params = None
        if use_weights or alpha:
            params = [NON_DEFAULT_PARAM.get(hidden)] * depth + [NON_DEFAULT_PARAM.get(output)]
        X, Y, coefs, intercepts, sizes, hidden_acts = draw_problem(
            seed, hidden, output, depth, loss_name, params
        )
        sw = None
        if use_weights:
            sw = np.random.default_rng(seed + 1).uniform(0.1, 3.0, size=N_SAMPLES)

        S = N_SAMPLES if sw is None else sw.sum()

        def f(flat):
            c, i = unpack(flat, sizes)
            A = ref.forward(c, i, X, hidden_acts, output, params)[-1]
            penalty = 0.5 * alpha * sum(np.sum(W**2) for W in c) / S
            return ref.loss(loss_name, Y, A, sw) + penalty

        value, cg, ig = ref.loss_and_grad(
            coefs,
            intercepts,
            X,
            Y,
            hidden_acts,
            output,
            loss_name,
            sample_weight=sw,
            alpha=alpha,
            activation_params=params,
        )
        analytic = pack(cg, ig)
        numeric = ref.numerical_gradient(f, pack(coefs, intercepts))
        err = rel_err(analytic, numeric)
        assert err <= 1e-6, (use_weights, alpha, err)
        for g, p in zip(cg + ig, coefs + intercepts):
            assert g.shape == np.shape(p) and g.dtype == np.float64

        # The returned loss is the data loss plus the L2 penalty.
        assert value == pytest.approx(f(pack(coefs, intercepts)), rel=1e-12)


def test_gradient_check_detects_a_wrong_gradient():
    """Sanity check of the checker: a perturbed gradient fails the bound."""
    X, Y, coefs, intercepts, sizes, hidden_acts = draw_problem(
        1, "tanh", "softmax", 1, "log_loss", None
    )
    _, cg, ig = ref.loss_and_grad(coefs, intercepts, X, Y, hidden_acts, "softmax", "log_loss")
    f = lambda flat: ref.loss_and_grad(
        *unpack(flat, sizes), X, Y, hidden_acts, "softmax", "log_loss"
    )[0]
    numeric = ref.numerical_gradient(f, pack(coefs, intercepts))
    wrong = pack(cg, ig)
    wrong[0] *= 1.001
    assert rel_err(wrong, numeric) > 1e-6


def test_numerical_gradient_of_known_function():
    f = lambda p: p[0] ** 3 + 2 * p[0] * p[1] + np.sin(p[2])
    p = np.array([1.5, -2.0, 0.3])
    expected = [3 * 1.5**2 + 2 * -2.0, 2 * 1.5, np.cos(0.3)]
    np.testing.assert_allclose(ref.numerical_gradient(f, p), expected, rtol=1e-8)
    np.testing.assert_array_equal(p, [1.5, -2.0, 0.3])  # not mutated


# ---------------------------------------------------------------------------
# Losses against scikit-learn's metrics
# ---------------------------------------------------------------------------


def test_log_loss_matches_sklearn():
    rng = np.random.default_rng(3)
    A = ref.activation("softmax", rng.normal(size=(8, 3)))
    labels = rng.integers(0, 3, size=8)
    labels[:3] = [0, 1, 2]
    Y = np.eye(3)[labels]
    w = rng.uniform(0.5, 2.0, size=8)
    assert ref.loss("log_loss", Y, A) == pytest.approx(sk_log_loss(labels, A), rel=1e-12)
    assert ref.loss("log_loss", Y, A, w) == pytest.approx(
        sk_log_loss(labels, A, sample_weight=w), rel=1e-12
    )


def test_binary_log_loss_matches_sklearn():
    rng = np.random.default_rng(4)
    p = rng.uniform(0.05, 0.95, size=10)
    y = rng.integers(0, 2, size=10)
    y[:2] = [0, 1]
    w = rng.uniform(0.5, 2.0, size=10)
    assert ref.loss("binary_log_loss", y[:, None], p[:, None], w) == pytest.approx(
        sk_log_loss(y, p, sample_weight=w), rel=1e-12
    )


def test_poisson_is_half_mean_deviance():
    rng = np.random.default_rng(5)
    a = rng.uniform(0.5, 4.0, size=10)
    y = rng.poisson(2.0, size=10).astype(float)
    w = rng.uniform(0.5, 2.0, size=10)
    assert ref.loss("poisson", y[:, None], a[:, None], w) == pytest.approx(
        0.5 * mean_poisson_deviance(y, a, sample_weight=w), rel=1e-12
    )


def test_squared_error_sums_over_outputs():
    Y = np.array([[1.0, 2.0], [0.0, 0.0]])
    A = np.array([[2.0, 0.0], [1.0, 1.0]])
    # per-sample: 0.5*(1+4) = 2.5, 0.5*(1+1) = 1.0
    assert ref.loss("squared_error", Y, A) == pytest.approx((2.5 + 1.0) / 2)
    assert ref.loss("squared_error", Y, A, [3.0, 1.0]) == pytest.approx((3 * 2.5 + 1.0) / 4)


def test_log_losses_clip_predictions():
    Y = np.array([[1.0, 0.0]])
    A = np.array([[0.0, 1.0]])
    eps = np.finfo(np.float64).eps
    assert ref.loss("log_loss", Y, A) == pytest.approx(-np.log(eps))
    assert np.isfinite(ref.loss("binary_log_loss", Y, A))


# ---------------------------------------------------------------------------
# Activations
# ---------------------------------------------------------------------------


def test_activation_values():
    z = np.array([[-2.0, -0.5, 0.0, 1.5]])
    np.testing.assert_allclose(ref.activation("identity", z), z)
    np.testing.assert_allclose(ref.activation("logistic", z), 1 / (1 + np.exp(-z)))
    np.testing.assert_allclose(ref.activation("tanh", z), np.tanh(z))
    np.testing.assert_allclose(ref.activation("relu", z), [[0, 0, 0, 1.5]])
    np.testing.assert_allclose(ref.activation("leaky_relu", z), [[-0.02, -0.005, 0, 1.5]])
    np.testing.assert_allclose(ref.activation("leaky_relu", z, 0.5), [[-1.0, -0.25, 0, 1.5]])
    np.testing.assert_allclose(
        ref.activation("elu", z), [[np.exp(-2) - 1, np.exp(-0.5) - 1, 0, 1.5]]
    )
    np.testing.assert_allclose(
        ref.activation("elu", z, 2.0), [[2 * (np.exp(-2) - 1), 2 * (np.exp(-0.5) - 1), 0, 1.5]]
    )
    np.testing.assert_allclose(ref.activation("exp", z), np.exp(z))
    e = np.exp(z)
    np.testing.assert_allclose(ref.activation("softmax", z), e / e.sum())


def test_activation_returns_new_float64_array():
    z = np.array([[1, 2]], dtype=np.int64)
    out = ref.activation("identity", z)
    assert out.dtype == np.float64
    out[0, 0] = 99.0
    assert z[0, 0] == 1


def test_softmax_is_stable_and_rowwise():
    z = np.array([[1000.0, 1000.0, 999.0], [-5.0, 0.0, 5.0]])
    s = ref.activation("softmax", z)
    assert np.all(np.isfinite(s))
    np.testing.assert_allclose(s.sum(axis=1), 1.0)
    e = np.exp([1.0, 1.0, 0.0])
    np.testing.assert_allclose(s[0], e / e.sum())


@pytest.mark.parametrize(
    "name", ["identity", "logistic", "tanh", "relu", "leaky_relu", "elu", "exp"]
)
@pytest.mark.parametrize("param", [None, 0.3])
def test_activation_derivative_matches_finite_differences(name, param):
    z = np.array([-2.3, -0.7, -0.01, 0.02, 0.4, 1.9])
    h = 1e-6
    numeric = (ref.activation(name, z + h, param) - ref.activation(name, z - h, param)) / (2 * h)
    np.testing.assert_allclose(
        ref.activation_derivative(name, z, param), numeric, rtol=1e-7, atol=1e-9
    )


def test_relu_family_derivative_at_zero():
    z = np.array([0.0])
    assert ref.activation_derivative("relu", z)[0] == 0.0
    assert ref.activation_derivative("leaky_relu", np.array([-1.0]))[0] == 0.01
    assert ref.activation_derivative("elu", np.array([-1.0]))[0] == pytest.approx(np.exp(-1))


# ---------------------------------------------------------------------------
# Worked examples
# ---------------------------------------------------------------------------


def test_worked_example_2_2_1_sigmoid():
    coefs = [np.array([[0.2, 0.3], [0.4, 0.1]]), np.array([[0.6], [0.5]])]
    intercepts = [np.array([0.1, 0.2]), np.array([0.3])]
    X = np.array([[0.5, 0.8]])
    acts = ref.forward(coefs, intercepts, X, ["logistic"], "logistic")
    assert len(acts) == 3
    np.testing.assert_array_equal(acts[0], X)
    np.testing.assert_allclose(np.round(acts[1], 3), [[0.627, 0.606]])
    np.testing.assert_allclose(np.round(acts[2], 3), [[0.727]])


def test_xor_network():
    # hidden unit 1 (20, 20, -10) ~ OR, hidden unit 2 (-20, -20, 30) ~ NAND,
    # output (20, 20, -30) ~ AND  =>  XOR
    coefs = [np.array([[20.0, -20.0], [20.0, -20.0]]), np.array([[20.0], [20.0]])]
    intercepts = [np.array([-10.0, 30.0]), np.array([-30.0])]
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    out = ref.forward(coefs, intercepts, X, ["logistic"], "logistic")[-1]
    np.testing.assert_array_equal(np.round(out).ravel(), [0, 1, 1, 0])


def test_forward_checks_layer_count():
    coefs = [np.ones((2, 2)), np.ones((2, 1))]
    intercepts = [np.zeros(2), np.zeros(1)]
    with pytest.raises(ValueError):
        ref.forward(coefs, intercepts, np.ones((1, 2)), [], "identity")
    with pytest.raises(ValueError):
        ref.forward(coefs, intercepts, np.ones((1, 2)), ["relu"], "identity", [None])


# ---------------------------------------------------------------------------
# Optimizer steps
# ---------------------------------------------------------------------------


def test_sgd_plain_momentum_and_nesterov():
    w0, g, v0 = np.array([1.0, -1.0]), np.array([1.0, -2.0]), np.zeros(2)
    # plain SGD: momentum = 0
    w, v = ref.sgd_step(w0, g, v0, lr=0.1, momentum=0.0)
    np.testing.assert_allclose(w, [0.9, -0.8])
    # classical momentum, two steps with the same gradient:
    # v1 = -0.1 g, w1 = w0 - 0.1 g; v2 = -0.19 g, w2 = w1 - 0.19 g
    w1, v1 = ref.sgd_step(w0, g, v0, lr=0.1, momentum=0.9, nesterov=False)
    w2, v2 = ref.sgd_step(w1, g, v1, lr=0.1, momentum=0.9, nesterov=False)
    np.testing.assert_allclose(v1, -0.1 * g)
    np.testing.assert_allclose(w1, w0 - 0.1 * g)
    np.testing.assert_allclose(w2, w0 - 0.29 * g)
    # Nesterov: w1 = w0 + 0.9 v1 - 0.1 g = w0 - 0.19 g;
    #           w2 = w1 + 0.9 v2 - 0.1 g = w1 - 0.271 g
    n1, u1 = ref.sgd_step(w0, g, v0, lr=0.1, momentum=0.9, nesterov=True)
    n2, u2 = ref.sgd_step(n1, g, u1, lr=0.1, momentum=0.9, nesterov=True)
    np.testing.assert_allclose(u1, -0.1 * g)
    np.testing.assert_allclose(n1, w0 - 0.19 * g)
    np.testing.assert_allclose(n2, w0 - 0.461 * g)
    np.testing.assert_allclose(u2, -0.19 * g)
    np.testing.assert_array_equal(w0, [1.0, -1.0])  # inputs not mutated
    np.testing.assert_array_equal(v0, [0.0, 0.0])


def test_adam_steps():
    w0 = np.array([0.5, -0.5, 2.0])
    g = np.array([3.0, -0.01, 100.0])
    m, v, t, lr = np.zeros(3), np.zeros(3), 0, 0.01
    # with a constant gradient, the bias-corrected step is ~ lr * sign(g)
    w = w0
    for step in range(1, 4):
        w, m, v, t = ref.adam_step(w, g, m, v, t, lr)
        assert t == step
        np.testing.assert_allclose(w, w0 - step * lr * np.sign(g), rtol=1e-5)
    np.testing.assert_allclose(m, (1 - 0.9**3) * g)
    np.testing.assert_allclose(v, (1 - 0.999**3) * g**2)
    # g = +1 then -1: m2 = -0.01, v2 = 0.001999, lr_t = lr sqrt(0.001999)/0.19
    # so the second step is +lr/19.
    w1, m1, v1, t1 = ref.adam_step(
        np.array([0.0]), np.array([1.0]), np.zeros(1), np.zeros(1), 0, lr
    )
    w2, m2, v2, t2 = ref.adam_step(w1, np.array([-1.0]), m1, v1, t1, lr)
    np.testing.assert_allclose(w1, [-lr], rtol=1e-6)
    np.testing.assert_allclose(m2, [-0.01])
    np.testing.assert_allclose(v2, [0.001999])
    np.testing.assert_allclose(w2, [-lr + lr / 19], rtol=1e-6)
    assert t2 == 2


def test_adamw():
    w0 = np.array([1.0, -2.0, 3.0])
    g = np.array([0.5, 0.5, -0.5])
    m0, v0 = np.zeros(3), np.zeros(3)
    # weight_decay = 0 is exactly Adam
    a = ref.adam_step(w0, g, m0, v0, 0, 0.1)
    b = ref.adamw_step(w0, g, m0, v0, 0, 0.1, weight_decay=0.0)
    for x, y in zip(a[:3], b[:3]):
        np.testing.assert_array_equal(x, y)
    assert a[3] == b[3] == 1
    # decay uses the old weights and only the masked entries:
    # w = w0 - lr*wd*w0*mask - adam_step
    mask = np.array([True, True, False])
    w, m, v, t = ref.adamw_step(w0, g, m0, v0, 0, 0.1, weight_decay=0.5, decay_mask=mask)
    adam_move = a[0] - w0
    np.testing.assert_allclose(w, w0 - 0.05 * w0 * [1, 1, 0] + adam_move)
    np.testing.assert_allclose(w, [1.0 - 0.05 - 0.1, -2.0 + 0.1 - 0.1, 3.0 + 0.1], rtol=1e-6)
    # default mask decays everything
    w_all = ref.adamw_step(w0, g, m0, v0, 0, 0.1, weight_decay=0.5)[0]
    np.testing.assert_allclose(w_all, w0 * 0.95 + adam_move)


def test_adagrad_steps():
    w, G = ref.adagrad_step(np.array([1.0]), np.array([2.0]), np.zeros(1), lr=0.1)
    np.testing.assert_allclose(G, [4.0])
    np.testing.assert_allclose(w, [0.9])
    w, G = ref.adagrad_step(w, np.array([2.0]), G, lr=0.1)
    np.testing.assert_allclose(G, [8.0])
    np.testing.assert_allclose(w, [0.9 - 0.2 / math.sqrt(8)])


def test_rmsprop_steps():
    w, s = ref.rmsprop_step(np.array([1.0]), np.array([2.0]), np.zeros(1), lr=0.1)
    np.testing.assert_allclose(s, [0.4])
    np.testing.assert_allclose(w, [1.0 - 0.2 / math.sqrt(0.4)])
    w, s = ref.rmsprop_step(w, np.array([2.0]), s, lr=0.1)
    np.testing.assert_allclose(s, [0.76])
    np.testing.assert_allclose(w, [1.0 - 0.2 / math.sqrt(0.4) - 0.2 / math.sqrt(0.76)])


def test_clip_by_global_norm():
    small = np.array([0.3, -0.4])  # norm 0.5
    out = ref.clip_by_global_norm(small, 1.0)
    np.testing.assert_array_equal(out, small)
    assert out is not small
    large = np.array([3.0, -4.0])  # norm 5
    out = ref.clip_by_global_norm(large, 1.0)
    np.testing.assert_allclose(out, [0.6, -0.8])
    assert np.linalg.norm(out) == pytest.approx(1.0, rel=1e-15)
    np.testing.assert_array_equal(large, [3.0, -4.0])


def test_l1_subgradient():
    w = np.array([2.0, -3.0, 0.0, 5.0])
    mask = np.array([1, 1, 1, 0])
    np.testing.assert_allclose(ref.l1_subgradient(w, 0.5, 10, mask), [0.05, -0.05, 0.0, 0.0])
    # it is the gradient of l1 * sum|w_masked| / n away from 0
    p = np.array([0.7, -1.2, 2.0])
    m = np.array([1.0, 1.0, 0.0])
    f = lambda q: 0.3 * np.sum(np.abs(q) * m) / 4
    np.testing.assert_allclose(
        ref.l1_subgradient(p, 0.3, 4, m), ref.numerical_gradient(f, p), rtol=1e-8
    )


# ---------------------------------------------------------------------------
# Learning-rate schedules
# ---------------------------------------------------------------------------


def test_learning_rate_schedules():
    lr = ref.learning_rate
    assert [lr("constant", 0.1, e) for e in (0, 5, 50)] == [0.1, 0.1, 0.1]
    assert lr("adaptive", 0.1, 30) == 0.1
    np.testing.assert_allclose(
        [lr("step", 1.0, e, gamma=0.1, step_size=10) for e in (0, 9, 10, 20)], [1.0, 1.0, 0.1, 0.01]
    )
    np.testing.assert_allclose(
        [lr("exponential", 0.8, e, gamma=0.5) for e in (0, 1, 3)], [0.8, 0.4, 0.1]
    )
    assert lr("invscaling", 0.5, 0, t=0) == 0.5
    assert lr("invscaling", 0.5, 3, t=99, power_t=0.5) == pytest.approx(0.05)
    assert lr("invscaling", 0.5, 3, t=3, power_t=1.0) == pytest.approx(0.125)
    np.testing.assert_allclose(
        [lr("cosine", 1.0, e, horizon=10, lr_min=0.2) for e in (0, 5, 10, 15)], [1.0, 0.6, 0.2, 0.2]
    )
    assert lr("cosine", 1.0, 2, horizon=4) == pytest.approx(0.5)


# ---------------------------------------------------------------------------
# Bad names
# ---------------------------------------------------------------------------


def test_bad_names_raise():
    Z = np.zeros((2, 2))
    with pytest.raises(ValueError):
        ref.activation("sigmoidal", Z)
    with pytest.raises(ValueError):
        ref.activation_derivative("sigmoidal", Z)
    with pytest.raises(ValueError):
        ref.activation_derivative("softmax", Z)
    with pytest.raises(ValueError):
        ref.loss("hinge", Z, Z)
    with pytest.raises(ValueError):
        ref.loss_and_grad([np.ones((2, 2))], [np.zeros(2)], Z, Z, [], "identity", "hinge")
    with pytest.raises(ValueError):
        ref.forward([np.ones((2, 2))], [np.zeros(2)], Z, [], "swish")
    with pytest.raises(ValueError):
        ref.learning_rate("warmup", 0.1, 0)
