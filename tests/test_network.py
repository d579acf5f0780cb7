"""Behaviour of ``fastmlp.Network``: worked examples, the flat parameter layout, gradient
checks over every activation/output/loss combination, sample weights, chunking, stability
and initialisation."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import fastmlp
from fastmlp import Network, check_gradients

DTYPES = ["float32", "float64"]
HIDDEN = ["identity", "logistic", "tanh", "relu", "leaky_relu", "elu"]
# (output activation, loss): the canonical pairs first, then pairs that take the general
# Jacobian path in the output delta.
PAIRS = [
    ("identity", "squared_error"),
    ("softmax", "log_loss"),
    ("logistic", "binary_log_loss"),
    ("exp", "poisson"),
    ("logistic", "squared_error"),
    ("softmax", "squared_error"),
    ("softmax", "binary_log_loss"),
    ("logistic", "poisson"),
    ("exp", "squared_error"),
]
HIDDEN_SIZES = {1: [6], 2: [4, 6], 3: [6, 4, 5]}
N_IN, N_OUT, N_SAMPLES = 5, 3, 7


def _rtol(dtype):
    return 1e-5 if np.dtype(dtype) == np.float32 else 1e-12


# ---- plain NumPy helpers (independent of the kernels) -----------------------------------
def _np_activation(name, Z, param=None):
    if name == "identity":
        return Z
    if name == "logistic":
        return 1.0 / (1.0 + np.exp(-Z))
    if name == "tanh":
        return np.tanh(Z)
    if name == "relu":
        return np.maximum(Z, 0.0)
    if name == "leaky_relu":
        return np.where(Z > 0, Z, (0.01 if param is None else param) * Z)
    if name == "elu":
        return np.where(Z > 0, Z, (1.0 if param is None else param) * np.expm1(np.minimum(Z, 0)))
    if name == "exp":
        return np.exp(Z)
    if name == "softmax":
        E = np.exp(Z - Z.max(axis=1, keepdims=True))
        return E / E.sum(axis=1, keepdims=True)
    raise ValueError(name)


def _np_forward(net, X):
    """Forward pass in float64 NumPy; returns (hidden pre-activations, output)."""
    A = np.asarray(X, dtype=np.float64)
    names = net.hidden_activations + [net.output_activation]
    zs = []
    for W, b, name in zip(net.coefs, net.intercepts, names):
        Z = A @ W.astype(np.float64) + b.astype(np.float64)
        zs.append(Z)
        A = _np_activation(name, Z)
    return zs[:-1], A


def _targets(rng, output, loss, n, m):
    if loss == "log_loss":
        return np.eye(m)[rng.randint(0, m, n)]
    if loss == "binary_log_loss":
        return rng.randint(0, 2, (n, m)).astype(np.float64)
    if loss == "poisson":
        return rng.poisson(1.5, (n, m)).astype(np.float64)  # non-negative counts, zeros too
    if output in ("logistic", "softmax"):
        return rng.uniform(0.05, 0.95, (n, m))
    if output == "exp":
        return rng.uniform(0.2, 3.0, (n, m))
    return rng.normal(size=(n, m))


def _data_away_from_kinks(net, rng, n=N_SAMPLES, margin=1e-3):
    """Inputs (in the network's dtype) whose hidden pre-activations all have |z| > margin."""
    for _ in range(1000):
        X = rng.normal(size=(n, net.layer_sizes[0])).astype(net.dtype)
        zs, _ = _np_forward(net, X)
        if all(np.all(np.abs(Z) > margin) for Z in zs):
            return X
    raise RuntimeError("could not draw inputs away from the activation kinks")


# ---- worked examples ----------------------------------------------------------------------
W0 = [[0.2, 0.3], [0.4, 0.1]]  # column j holds hidden unit j's weights: [0.2, 0.4], [0.3, 0.1]
B0 = [0.1, 0.2]
W1 = [[0.6], [0.5]]
B1 = [0.3]
X_EXAMPLE = [[0.5, 0.8]]


@pytest.mark.parametrize("dtype", DTYPES)
def test_worked_example_2_2_1(dtype):
    net = Network(
        [2, 2, 1],
        activation="logistic",
        output_activation="logistic",
        loss="binary_log_loss",
        dtype=dtype,
    )
    net.coefs[0][...] = W0
    net.intercepts[0][...] = B0
    net.coefs[1][...] = W1
    net.intercepts[1][...] = B1
    out = net.forward(X_EXAMPLE)
    assert out.dtype == np.dtype(dtype)
    assert out.shape == (1, 1)
    assert round(float(out[0, 0]), 3) == 0.727

    # The hidden layer on its own: a [2, 2] network with the same weights and a logistic output.
    hidden = Network(
        [2, 2],
        activation="logistic",
        output_activation="logistic",
        loss="binary_log_loss",
        dtype=dtype,
    )
    hidden.coefs[0][...] = W0
    hidden.intercepts[0][...] = B0
    h = hidden.forward(X_EXAMPLE)
    assert_array_equal(np.round(h[0].astype(np.float64), 3), [0.627, 0.606])


@pytest.mark.parametrize("dtype", DTYPES)
def test_xor_network(dtype):
    net = Network(
        [2, 2, 1],
        activation="logistic",
        output_activation="logistic",
        loss="binary_log_loss",
        dtype=dtype,
    )
    # hidden unit 0: (20, 20, -10) = OR; hidden unit 1: (-20, -20, 30) = NAND
    net.coefs[0][...] = [[20.0, -20.0], [20.0, -20.0]]
    net.intercepts[0][...] = [-10.0, 30.0]
    # output: (20, 20, -30) = AND of the two
    net.coefs[1][...] = [[20.0], [20.0]]
    net.intercepts[1][...] = [-30.0]
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=dtype)
    out = net.forward(X)[:, 0]
    assert_array_equal(out > 0.5, [False, True, True, False])
    assert np.all((out < 1e-3) | (out > 1 - 1e-3))


def test_mnist_sized_network_parameter_count_and_views():
    net = Network(
        [784, 128, 64, 10],
        activation="relu",
        output_activation="softmax",
        loss="log_loss",
        dtype="float32",
        random_state=0,
    )
    assert net.n_params == 109_386
    assert net.params.size == 109_386
    assert net.params.ndim == 1 and net.params.flags.c_contiguous
    shapes = [(784, 128), (128, 64), (64, 10)]
    assert [W.shape for W in net.coefs] == shapes
    assert [b.shape for b in net.intercepts] == [(128,), (64,), (10,)]
    for W, b in zip(net.coefs, net.intercepts):
        assert np.shares_memory(W, net.params)
        assert np.shares_memory(b, net.params)
    # Layout: all weights row-major layer by layer, then all intercepts (sklearn's _pack).
    packed = np.concatenate([W.ravel() for W in net.coefs] + list(net.intercepts))
    assert_array_equal(packed, net.params)
    # Writing through a view changes params, and writing params changes the views.
    net.coefs[1][2, 3] = 123.0
    assert net.params[784 * 128 + 2 * 64 + 3] == 123.0
    net.intercepts[2][4] = -7.0
    assert net.params[net.n_weights + 128 + 64 + 4] == -7.0
    net.params[0] = 42.0
    assert net.coefs[0][0, 0] == 42.0


def test_layer_table_locates_every_view():
    # The kernels make their per-layer views from this table: it must agree with the
    # Python views (offsets into params) and place workspace blocks back to back.
    from fastmlp.kernels import layout as views

    net = Network(
        [5, 7, 3, 2],
        activation=["tanh", "relu"],
        output_activation="softmax",
        loss="log_loss",
        random_state=0,
    )
    table = net.layout.table
    assert table.shape == (3, views.N_LAYER_FIELDS) and table.dtype == np.int64
    for l, (W, b) in enumerate(zip(net.coefs, net.intercepts)):
        row = table[l]
        assert (row[views.FAN_IN], row[views.FAN_OUT]) == W.shape
        w, bs = row[views.W_START], row[views.B_START]
        assert_array_equal(net.params[w : w + W.size].reshape(W.shape), W)
        assert_array_equal(net.params[bs : bs + b.size], b)
    assert list(table[:, views.UNIT_START]) == [0, 7, 10]
    assert list(table[:, views.CODE]) == [2, 3, 6]  # tanh, relu, softmax


def test_one_compilation_serves_every_depth():
    # Kernel argument types do not depend on the number of layers: networks of other
    # depths reuse the compiled (and on-disk cached) kernels instead of compiling anew.
    from fastmlp import backend

    cpu = backend.target("cpu").kernels
    rng = np.random.RandomState(0)
    X = rng.randn(20, 4)
    Y = np.eye(3)[rng.randint(0, 3, 20)]

    def use(hidden):
        net = Network(
            [4, *hidden, 3],
            activation="relu",
            output_activation="softmax",
            loss="log_loss",
            dtype="float64",
            random_state=0,
        )
        net.fit(X, Y, max_iter=1, batch_size=5)
        net.loss_and_grad(X, Y)
        net.forward(X)

    use([8])
    counts = [len(k.signatures) for k in (cpu.train_epoch, cpu.loss_and_grad, cpu.forward)]
    for hidden in ([], [8, 8], [6, 5, 4, 3]):
        use(hidden)
    assert [len(k.signatures) for k in (cpu.train_epoch, cpu.loss_and_grad, cpu.forward)] == counts


# ---- gradient checks over the whole matrix ----------------------------------------------
@pytest.mark.parametrize(
    "weighted,alpha",
    [(False, 0.0), (True, 0.0), (False, 0.3), (True, 0.3)],
    ids=["plain", "weighted", "l2", "weighted-l2"],
)
@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("output,loss", PAIRS, ids=[f"{o}-{l}" for o, l in PAIRS])
@pytest.mark.parametrize("activation", HIDDEN)
def test_gradients(activation, output, loss, dtype, depth, weighted, alpha):
    seed = HIDDEN.index(activation) * 100 + PAIRS.index((output, loss)) * 10 + depth
    rng = np.random.RandomState(seed)
    net = Network(
        [N_IN, *HIDDEN_SIZES[depth], N_OUT],
        activation=activation,
        output_activation=output,
        loss=loss,
        dtype=dtype,
        random_state=seed,
    )
    X = _data_away_from_kinks(net, rng)
    Y = _targets(rng, output, loss, N_SAMPLES, N_OUT).astype(dtype)
    sw = rng.uniform(0.5, 2.0, N_SAMPLES).astype(dtype) if weighted else None
    result = check_gradients(net, X, Y, sample_weight=sw, alpha=alpha)
    kernel_tol = 1e-10 if dtype == "float64" else 1e-4
    assert result.kernel_vs_reference <= kernel_tol, result
    assert result.reference_vs_finite_differences <= 1e-6, result
    assert result.ok
    assert bool(result)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gradients_with_one_activation_per_layer(dtype):
    rng = np.random.RandomState(1)
    net = Network(
        [N_IN, 5, 4, 6, N_OUT],
        activation=["tanh", "leaky_relu", "elu"],
        output_activation="softmax",
        loss="log_loss",
        dtype=dtype,
        random_state=1,
        leaky_slope=0.2,
        elu_alpha=0.7,
    )
    X = _data_away_from_kinks(net, rng)
    Y = _targets(rng, "softmax", "log_loss", N_SAMPLES, N_OUT)
    assert check_gradients(net, X, Y, alpha=0.1).ok


# ---- losses, dtypes, sample weights -------------------------------------------------------
def test_log_loss_with_logistic_output_is_binary_log_loss():
    rng = np.random.RandomState(0)
    a = Network(
        [4, 5, 2], activation="tanh", output_activation="logistic", loss="log_loss", random_state=0
    )
    b = Network(
        [4, 5, 2],
        activation="tanh",
        output_activation="logistic",
        loss="binary_log_loss",
        random_state=0,
    )
    assert a.loss == "binary_log_loss"
    X, Y = rng.normal(size=(6, 4)), rng.randint(0, 2, (6, 2)).astype(float)
    la, ga = a.loss_and_grad(X, Y)
    lb, gb = b.loss_and_grad(X, Y)
    assert la == lb
    assert_array_equal(ga, gb)
    # and it is scikit-learn's binary log loss, summed over outputs, averaged over samples
    P = a.forward(X)
    expected = -np.mean(np.sum(Y * np.log(P) + (1 - Y) * np.log(1 - P), axis=1))
    assert_allclose(la, expected, rtol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dtype_is_kept(dtype):
    net = Network(
        [4, 5, 3],
        activation="relu",
        output_activation="softmax",
        loss="log_loss",
        dtype=dtype,
        random_state=0,
    )
    assert net.params.dtype == np.dtype(dtype)
    assert all(W.dtype == np.dtype(dtype) for W in net.coefs)
    assert all(b.dtype == np.dtype(dtype) for b in net.intercepts)
    X = np.random.RandomState(0).normal(size=(6, 4))  # float64 input
    out = net.forward(X)
    assert out.dtype == np.dtype(dtype)
    assert out.shape == (6, 3)
    loss, grad = net.loss_and_grad(X, np.eye(3)[[0, 1, 2, 0, 1, 2]])
    assert isinstance(loss, float)
    assert grad.shape == net.params.shape
    assert grad.dtype == net.params.dtype


@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_matches_numpy(dtype):
    rng = np.random.RandomState(3)
    net = Network(
        [5, 6, 4, 3],
        activation=["tanh", "relu"],
        output_activation="softmax",
        loss="log_loss",
        dtype=dtype,
        random_state=3,
    )
    assert net.activation == ["tanh", "relu"]
    assert net.hidden_activations == ["tanh", "relu"]
    X = rng.normal(size=(9, 5)).astype(dtype)
    _, expected = _np_forward(net, X)
    assert_allclose(net.forward(X), expected, rtol=100 * _rtol(dtype), atol=_rtol(dtype))


def test_wrong_length_activation_list_raises():
    with pytest.raises(ValueError, match="activation"):
        Network([4, 5, 5, 2], activation=["relu"])
    with pytest.raises(ValueError, match="activation"):
        Network([4, 5, 2], activation=["relu", "tanh"])


@pytest.mark.parametrize("dtype", DTYPES)
def test_uniform_weight_of_two_equals_unweighted(dtype):
    rng = np.random.RandomState(0)
    net = Network(
        [4, 6, 3],
        activation="tanh",
        output_activation="softmax",
        loss="log_loss",
        dtype=dtype,
        random_state=0,
    )
    X, Y = rng.normal(size=(8, 4)), np.eye(3)[rng.randint(0, 3, 8)]
    l1, g1 = net.loss_and_grad(X, Y)
    l2, g2 = net.loss_and_grad(X, Y, sample_weight=np.full(8, 2.0))
    assert_allclose(l2, l1, rtol=_rtol(dtype))
    assert_allclose(g2, g1, rtol=100 * _rtol(dtype), atol=_rtol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_l2_term_is_half_alpha_sum_w2_over_weight_total(dtype):
    rng = np.random.RandomState(0)
    net = Network(
        [4, 6, 3],
        activation="tanh",
        output_activation="softmax",
        loss="log_loss",
        dtype=dtype,
        random_state=0,
    )
    X, Y = rng.normal(size=(8, 4)), np.eye(3)[rng.randint(0, 3, 8)]
    sw = rng.uniform(0.5, 2.0, 8)
    alpha = 0.7
    l0, g0 = net.loss_and_grad(X, Y, sample_weight=sw)
    la, ga = net.loss_and_grad(X, Y, sample_weight=sw, alpha=alpha)
    S = sw.astype(dtype).sum(dtype=np.float64)
    sum_w2 = sum(np.sum(W.astype(np.float64) ** 2) for W in net.coefs)
    assert_allclose(la - l0, 0.5 * alpha * sum_w2 / S, rtol=1000 * _rtol(dtype))
    # gradient: alpha * W / S on the weights, nothing on the intercepts
    nw = net.n_weights
    assert_allclose(
        ga[:nw] - g0[:nw],
        alpha * net.params[:nw] / S,
        rtol=1000 * _rtol(dtype),
        atol=10 * _rtol(dtype),
    )
    assert_allclose(ga[nw:], g0[nw:], rtol=_rtol(dtype), atol=_rtol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_zero_weight_equals_dropping_the_sample(dtype):
    rng = np.random.RandomState(0)
    net = Network(
        [4, 6, 5, 2],
        activation="relu",
        output_activation="identity",
        loss="squared_error",
        dtype=dtype,
        random_state=0,
    )
    X, Y = rng.normal(size=(9, 4)), rng.normal(size=(9, 2))
    sw = np.ones(9)
    sw[4] = 0.0
    keep = np.arange(9) != 4
    lw, gw = net.loss_and_grad(X, Y, sample_weight=sw, alpha=0.1)
    ld, gd = net.loss_and_grad(X[keep], Y[keep], alpha=0.1)
    assert_allclose(lw, ld, rtol=10 * _rtol(dtype))
    assert_allclose(gw, gd, rtol=100 * _rtol(dtype), atol=_rtol(dtype))


# ---- chunking and numerical stability ------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("chunk_size", [1, 3, 7, 10, 11, 1000])
def test_chunked_forward_equals_unchunked(dtype, chunk_size):
    rng = np.random.RandomState(0)
    net = Network(
        [4, 6, 5, 3],
        activation="elu",
        output_activation="softmax",
        loss="log_loss",
        dtype=dtype,
        random_state=0,
    )
    X = rng.normal(size=(23, 4))
    full = net.forward(X)
    chunked = net.forward(X, chunk_size=chunk_size)
    assert chunked.shape == full.shape
    assert_allclose(chunked, full, rtol=_rtol(dtype), atol=_rtol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_is_stable_for_huge_logits(dtype):
    net = Network(
        [4, 5, 3],
        activation="relu",
        output_activation="softmax",
        loss="log_loss",
        dtype=dtype,
        random_state=0,
    )
    net.intercepts[-1][...] = [1e4, 0.0, -1e4]
    X = np.random.RandomState(0).normal(size=(6, 4))
    P = net.forward(X)
    assert np.all(np.isfinite(P))
    assert_allclose(P.sum(axis=1), 1.0, rtol=1e-6)
    assert_array_equal(P.argmax(axis=1), 0)
    # all biases huge and equal: the shift by the row max keeps exp() in range
    net.intercepts[-1][...] = 1e4
    P = net.forward(X)
    assert np.all(np.isfinite(P))
    assert_allclose(P.sum(axis=1), 1.0, rtol=1e-6)
    # the loss of a confidently wrong prediction is clipped, not infinite
    net.intercepts[-1][...] = [1e4, 0.0, -1e4]
    loss, grad = net.loss_and_grad(X, np.eye(3)[[2] * 6])
    assert np.isfinite(loss)
    assert_allclose(loss, -np.log(np.finfo(dtype).eps), rtol=1e-3)
    assert np.all(np.isfinite(grad))


# ---- initialisation -----------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ["relu", "logistic", "tanh"])
def test_glorot_uniform_reproduces_scikit_learn_draws(activation, dtype):
    sizes = [5, 7, 4, 3]
    net = Network(
        sizes,
        activation=activation,
        output_activation="identity",
        dtype=dtype,
        init="glorot_uniform",
        random_state=42,
    )
    rng = np.random.RandomState(42)
    factor = 2.0 if activation == "logistic" else 6.0
    for l, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        bound = np.sqrt(factor / (fan_in + fan_out))
        W = rng.uniform(-bound, bound, (fan_in, fan_out))
        b = rng.uniform(-bound, bound, fan_out)
        assert_array_equal(net.coefs[l], W.astype(dtype))
        assert_array_equal(net.intercepts[l], b.astype(dtype))


@pytest.mark.parametrize("activation", ["relu", "logistic"])
def test_glorot_uniform_matches_sklearn_init_coef(activation):
    from sklearn.neural_network import MLPRegressor

    mlp = MLPRegressor(activation=activation)
    if not hasattr(mlp, "_init_coef"):
        pytest.skip("scikit-learn's private _init_coef is not available")
    mlp._random_state = np.random.RandomState(7)
    sizes = [6, 8, 2]
    net = Network(sizes, activation=activation, random_state=7)
    for l, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        W, b = mlp._init_coef(fan_in, fan_out, np.float64)
        assert_array_equal(net.coefs[l], W)
        assert_array_equal(net.intercepts[l], b)


def test_he_normal_std():
    net = Network([2000, 400, 10], activation="relu", init="he_normal", random_state=0)
    W = net.coefs[0]
    assert abs(W.std() / np.sqrt(2.0 / 2000) - 1.0) < 0.02
    assert abs(W.mean()) < 5 * np.sqrt(2.0 / 2000) / np.sqrt(W.size)
    assert abs(net.coefs[1].std() / np.sqrt(2.0 / 400) - 1.0) < 0.1
    assert all(np.all(b == 0) for b in net.intercepts)


def test_other_init_schemes():
    sizes = [300, 200, 10]
    gn = Network(sizes, init="glorot_normal", random_state=0)
    assert abs(gn.coefs[0].std() / np.sqrt(2.0 / 500) - 1.0) < 0.02
    hu = Network(sizes, init="he_uniform", random_state=0)
    bound = np.sqrt(6.0 / 300)
    assert np.all(np.abs(hu.coefs[0]) <= bound)
    assert hu.coefs[0].max() > 0.95 * bound and hu.coefs[0].min() < -0.95 * bound
    for net in (gn, hu):
        assert all(np.all(b == 0) for b in net.intercepts)


@pytest.mark.parametrize("init", ["glorot_uniform", "glorot_normal", "he_uniform", "he_normal"])
def test_same_random_state_gives_identical_params(init):
    a = Network([5, 6, 3], init=init, random_state=11)
    b = Network([5, 6, 3], init=init, random_state=11)
    c = Network([5, 6, 3], init=init, random_state=12)
    d = Network([5, 6, 3], init=init, random_state=np.random.RandomState(11))
    assert_array_equal(a.params, b.params)
    assert_array_equal(a.params, d.params)
    assert not np.array_equal(a.params, c.params)
    # re-initialising in place keeps the views valid
    views = a.coefs[0]
    a.initialize(12)
    assert_array_equal(a.params, c.params)
    assert np.shares_memory(views, a.params)
    assert_array_equal(views, c.coefs[0])


def test_public_names():
    assert fastmlp.Network is Network
    assert fastmlp.check_gradients is check_gradients


def test_a_workspace_without_dropout_carries_no_rates():
    # None, not an empty array: the kernels then compile no random-number code (their
    # overloads decide by the type), and an all-zero rate vector means the same.
    from fastmlp import backend
    from fastmlp.kernels.cpu.network import has_dropout

    net = Network([3, 4, 4, 2], dtype="float32")
    assert backend.workspace(net, 5).dropout is None
    assert backend.workspace(net, 5, dropout=np.zeros(2)).dropout is None
    rates = np.array([0.0, 0.5])
    assert backend.workspace(net, 5, dropout=rates).dropout is rates
    assert [has_dropout(rates, l) for l in range(3)] == [False, True, False]
    assert not has_dropout(None, 1)


# ---- buffers on whole cache lines ----------------------------------------------------------
def _owns_its_lines(array):
    """``array`` starts on a cache line, and the lines it touches hold nothing else (an
    empty array touches none)."""
    if array.size == 0:
        return True
    line = fastmlp.backend.CACHE_LINE
    offset = array.ctypes.data - array.base.ctypes.data
    return (
        array.ctypes.data % line == 0
        and offset + -(-array.nbytes // line) * line <= array.base.nbytes
    )


@pytest.mark.parametrize("shape", [0, (3, 0), 1, 17, 63, (3, 5), (16, 20)])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_aligned_buffers(shape, dtype):
    backend = fastmlp.backend
    zeros = backend.aligned_zeros(shape, dtype)
    values = np.arange(zeros.size).reshape(zeros.shape)
    copy = backend.aligned_copy(values, dtype)
    for array in (zeros, copy, backend.aligned_empty(shape, dtype)):
        assert array.shape == np.empty(shape).shape and array.dtype == dtype
        assert array.flags.c_contiguous and array.flags.writeable
        assert _owns_its_lines(array)
    assert not zeros.any()
    assert_array_equal(copy, values)


@pytest.mark.parametrize("dtype", DTYPES)
def test_fit_buffers_are_aligned(dtype):
    import pickle

    net = Network([5, 7, 3], batch_norm=True, dtype=dtype, random_state=0)
    buffers = fastmlp.backend.EpochBuffers(net, 9, dropout=None, diagnostics=False)
    state = fastmlp.backend.optimizer_state(net, "adam")
    restored = pickle.loads(pickle.dumps(net))
    arrays = [net.params, net.state, restored.params, restored.state, buffers.grad]
    arrays += [*buffers.batch, buffers.workspace.acts, buffers.workspace.deltas]
    arrays += [state.state1, state.state2]
    assert all(_owns_its_lines(a) for a in arrays)
    assert_array_equal(restored.params, net.params)
