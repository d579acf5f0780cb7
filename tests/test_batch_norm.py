"""Batch normalisation and PReLU: gradients against the plain reference and finite
differences, folding at inference, running statistics replayed step by step, refusals."""

import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.utils import shuffle as sk_shuffle

from fastmlp import Network, backend, reference
from fastmlp.gradcheck import relative_error
from fastmlp.kernels import layout

DTYPES = ["float32", "float64"]
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
N_IN, HIDDEN, N_OUT, N_ROWS = 5, [4, 6], 3, 9


def _targets(rng, output, loss, n, m):
    if loss == "log_loss":
        return np.eye(m)[rng.randint(0, m, n)]
    if loss == "binary_log_loss":
        return rng.randint(0, 2, (n, m)).astype(np.float64)
    if loss == "poisson":
        return rng.poisson(1.5, (n, m)).astype(np.float64)
    if output in ("logistic", "softmax"):
        return rng.uniform(0.05, 0.95, (n, m))
    if output == "exp":
        return rng.uniform(0.2, 3.0, (n, m))
    return rng.normal(size=(n, m))


def _blocks(net, flat):
    return {
        k: [None if a is None else a.astype(np.float64) for a in v]
        for k, v in net.unpack(flat).items()
    }


def _settings(net):
    params = [net.activation_param(a) for a in net.hidden_activations] + [None]
    return dict(
        hidden_activations=net.hidden_activations,
        output_activation=net.output_activation,
        activation_params=params,
    )


def _ref_loss_and_grad(net, flat, X, Y, sw=None, alpha=0.0):
    """The reference's loss and gradient, the gradient packed into params' layout."""
    loss, grads = reference.loss_and_grad_blocks(
        _blocks(net, flat),
        np.asarray(X, np.float64),
        np.asarray(Y, np.float64),
        loss_name=net.loss,
        sample_weight=sw,
        alpha=alpha,
        batch_norm_epsilon=net.batch_norm_epsilon,
        **_settings(net),
    )
    packed = np.zeros(net.n_params)
    for name, views in net.unpack(packed).items():
        for view, g in zip(views, grads[name]):
            if view is not None:
                view[...] = g
    return loss, packed


def _randomise_extras(net, rng):
    """Scales, shifts and slopes away from their start, slopes of both signs and above 1."""
    for l in range(net.n_layers):
        if net.gamma[l] is not None:
            net.gamma[l][...] = rng.uniform(0.5, 1.5, net.gamma[l].size)
            net.beta[l][...] = rng.uniform(-0.5, 0.5, net.beta[l].size)
        if net.slopes[l] is not None:
            net.slopes[l][...] = rng.choice([-0.7, 0.3, 1.4], net.slopes[l].size)


def _away_from_kinks(net, rng, margin=1e-3):
    """Inputs whose PReLU pre-activations all have |y| > margin (in training mode)."""
    for _ in range(1000):
        X = rng.normal(size=(N_ROWS, N_IN)).astype(net.dtype)
        blocks = _blocks(net, net.params)
        names = net.hidden_activations + [net.output_activation]
        A = X.astype(np.float64)
        ok = True
        for l, name in enumerate(names[:-1]):
            Z = A @ blocks["coefs"][l] + blocks["intercepts"][l]
            if blocks["gamma"][l] is not None:
                Z, _ = reference.batch_norm_forward(Z, blocks["gamma"][l], blocks["beta"][l])
            ok &= name != "prelu" or bool(np.all(np.abs(Z) > margin))
            A = (
                reference.prelu(Z, blocks["slopes"][l])
                if name == "prelu"
                else reference.activation(name, Z)
            )
        if ok:
            return X
    raise RuntimeError("no inputs away from the kinks")


# ---- gradients: kernels vs reference vs finite differences ---------------------------------
@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "weighted-l2"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("output,loss", PAIRS, ids=[f"{o}-{l}" for o, l in PAIRS])
@pytest.mark.parametrize("activation", ["prelu", "tanh"])
@pytest.mark.parametrize("batch_norm", [True, False], ids=["bn", "no-bn"])
def test_gradients(batch_norm, activation, output, loss, dtype, weighted):
    seed = PAIRS.index((output, loss)) * 10 + weighted + 2 * batch_norm
    rng = np.random.RandomState(seed)
    net = Network(
        [N_IN, *HIDDEN, N_OUT],
        activation=activation,
        batch_norm=batch_norm,
        output_activation=output,
        loss=loss,
        dtype=dtype,
        random_state=seed,
    )
    _randomise_extras(net, rng)
    X = _away_from_kinks(net, rng)
    Y = _targets(rng, output, loss, N_ROWS, N_OUT).astype(dtype)
    sw = rng.uniform(0.5, 2.0, N_ROWS).astype(dtype) if weighted else None
    alpha = 0.3 if weighted else 0.0
    state = net.state.copy()
    loss_k, grad_k = net.loss_and_grad(X, Y, sample_weight=sw, alpha=alpha)
    assert_array_equal(net.state, state)  # loss_and_grad leaves the running statistics
    flat = net.params.astype(np.float64)
    sw64 = None if sw is None else sw.astype(np.float64)
    loss_r, grad_r = _ref_loss_and_grad(net, flat, X, Y, sw64, alpha)
    fd = reference.numerical_gradient(
        lambda p: _ref_loss_and_grad(net, p, X, Y, sw64, alpha)[0], flat
    )
    tol = 1e-10 if dtype == "float64" else 1e-4
    assert relative_error(grad_k, grad_r) <= tol
    assert abs(loss_k - loss_r) <= tol * max(abs(loss_r), 1.0)
    assert relative_error(grad_r, fd) <= 1e-6
    views = net.unpack(grad_k)
    if batch_norm:  # the intercept batch norm cancels gets exactly no gradient
        assert all(not np.any(views["intercepts"][l]) for l in range(len(HIDDEN)))
        assert all(np.any(views["gamma"][l]) for l in range(len(HIDDEN)))
    if activation == "prelu":
        assert all(np.any(views["slopes"][l]) for l in range(len(HIDDEN)))


def test_penalties_leave_out_the_extra_parameters():
    rng = np.random.RandomState(3)
    net = Network([N_IN, 6, N_OUT], activation="prelu", batch_norm=True, random_state=3)
    X, Y = rng.normal(size=(8, N_IN)), rng.normal(size=(8, N_OUT))
    _, plain = net.loss_and_grad(X, Y)
    _, penalised = net.loss_and_grad(X, Y, alpha=0.5, l1=0.2)
    nw = net.n_weights
    assert np.any(penalised[:nw] != plain[:nw])
    assert_allclose(penalised[nw:], plain[nw:], rtol=1e-12, atol=1e-15)
    assert nw <= min(
        layout_start
        for layout_start in net.layout.table[0, [layout.GAMMA_START, layout.SLOPE_START]]
    )


# ---- structure ------------------------------------------------------------------------------
def test_views_layout_and_initial_values():
    net = Network(
        [3, 4, 5, 2], activation=["prelu", "relu"], batch_norm=[False, True], random_state=0
    )
    views = net.unpack(net.params)
    assert set(views) == {"coefs", "intercepts", "gamma", "beta", "slopes"}
    assert [g is None for g in net.gamma] == [True, False, True]
    assert [s is None for s in net.slopes] == [False, True, True]
    assert [m is None for m in net.running_mean] == [True, False, True]
    assert_array_equal(net.slopes[0], 0.25)
    assert_array_equal(net.gamma[1], 1.0)
    assert_array_equal(net.beta[1], 0.0)
    assert_array_equal(net.intercepts[1], 0.0)
    assert_array_equal(net.running_mean[1], 0.0)
    assert_array_equal(net.running_var[1], 1.0)
    assert net.n_params == 3 * 4 + 4 * 5 + 5 * 2 + 4 + 5 + 2 + 2 * 5 + 4
    assert net.state.size == 10
    net.gamma[1][0] = 7.0  # views, not copies
    assert net.params[net.layout.table[1, layout.GAMMA_START]] == 7.0
    net.running_var[1][2] = 3.0
    assert net.state[net.layout.table[1, layout.STATE_START] + 5 + 2] == 3.0


def test_without_either_the_network_is_unchanged():
    # Off by default: scikit-learn's draws and layout, no state.
    a = Network([4, 6, 3], activation="relu", random_state=0)
    b = Network([4, 6, 3], activation="relu", batch_norm=[False], random_state=0)
    assert_array_equal(a.params, b.params)
    assert a.n_params == 4 * 6 + 6 * 3 + 6 + 3 and a.state.size == 0
    assert a.gamma == [None, None] and a.slopes == [None, None]


def test_pickle_keeps_the_running_statistics():
    rng = np.random.RandomState(0)
    X, Y = rng.normal(size=(40, 4)), rng.normal(size=(40, 2))
    net = Network([4, 5, 2], activation="prelu", batch_norm=True, random_state=0)
    net.fit(X, Y, max_iter=3, batch_size=8)
    clone = pickle.loads(pickle.dumps(net))
    assert_array_equal(clone.state, net.state)
    assert_array_equal(clone.params, net.params)
    assert_array_equal(clone.forward(X), net.forward(X))
    clone.running_mean[0][0] = 5.0
    assert clone.state[0] == 5.0


@pytest.mark.parametrize(
    "bad, error", [("yes", TypeError), ([True], ValueError), ([1, 0], TypeError)]
)
def test_bad_batch_norm_argument(bad, error):
    with pytest.raises(error, match="batch_norm"):
        Network([3, 4, 4, 2], batch_norm=bad)


@pytest.mark.parametrize(
    "name, value",
    [
        ("batch_norm_momentum", 0.0),
        ("batch_norm_momentum", 1.5),
        ("batch_norm_epsilon", 0.0),
        ("batch_norm_epsilon", -1.0),
    ],
)
def test_bad_batch_norm_settings(name, value):
    with pytest.raises(ValueError, match=name):
        Network([3, 4, 2], batch_norm=True, **{name: value})


def test_one_row_batches_are_refused():
    rng = np.random.RandomState(0)
    X, Y = rng.normal(size=(10, 3)), rng.normal(size=(10, 2))
    net = Network([3, 4, 2], batch_norm=True, random_state=0)
    with pytest.raises(ValueError, match="batch_size=1"):
        net.fit(X, Y, batch_size=1, max_iter=1)
    with pytest.raises(ValueError, match="at least 2 rows"):
        net.fit(X[:1], Y[:1], max_iter=1)
    with pytest.raises(ValueError, match="at least 2 rows"):
        net.loss_and_grad(X[:1], Y[:1])
    with pytest.raises(ValueError, match="at least 2 rows"):
        net.forward(X[:1], training=True)
    assert net.forward(X[:1]).shape == (1, 2)  # inference needs no batch
    # Without batch norm one row is fine.
    Network([3, 4, 2], random_state=0).fit(X, Y, batch_size=1, max_iter=1)


# ---- inference: folding -------------------------------------------------------------------
def _trained(dtype, activation="prelu", seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(60, 5)).astype(dtype)
    Y = np.eye(3)[rng.randint(0, 3, 60)].astype(dtype)
    net = Network(
        [5, 8, 7, 3],
        activation=activation,
        batch_norm=True,
        dtype=dtype,
        output_activation="softmax",
        loss="log_loss",
        random_state=seed,
    )
    net.fit(X, Y, max_iter=4, batch_size=16, learning_rate_init=0.05)
    _randomise_extras(net, rng)
    return net, X


@pytest.mark.parametrize("dtype", DTYPES)
def test_folded_inference_matches_unfolded(dtype):
    net, X = _trained(dtype)
    assert not np.allclose(net.running_mean[0], 0.0) and not np.allclose(net.running_var[0], 1)
    folded = net.forward(X)
    t = backend.target("cpu")
    unfolded = t.kernels.forward(
        backend.model(net, training=False), X, backend.workspace(net, X.shape[0])
    ).copy()
    running = (net.running_mean, net.running_var)
    ref = reference.forward_blocks(
        _blocks(net, net.params),
        X,
        running=running,
        batch_norm_epsilon=net.batch_norm_epsilon,
        **_settings(net),
    )[-1]
    rtol = 1e-12 if dtype == "float64" else 2e-5
    assert_allclose(folded, unfolded, rtol=rtol, atol=rtol)
    # A few rows are normalised in the kernel instead of folding (cheaper for latency).
    assert 2 * net.layout.n_units < net.layout.n_weights <= X.shape[0] * net.layout.n_units
    assert_allclose(net.forward(X[:2]), folded[:2], rtol=rtol, atol=rtol)
    assert_allclose(folded, ref, rtol=rtol, atol=rtol)
    # Network.folded() is the dense network the kernels run.
    A = X.astype(np.float64)
    for l, (W, b) in enumerate(net.folded()):
        Z = A @ W + b
        A = reference.prelu(Z, net.slopes[l]) if l < 2 else reference.activation("softmax", Z)
    assert_allclose(folded, A, rtol=10 * rtol, atol=10 * rtol)


def test_training_mode_forward_uses_batch_statistics():
    net, X = _trained("float64", activation="tanh")
    state = net.state.copy()
    out = net.forward(X, training=True)
    ref = reference.forward_blocks(_blocks(net, net.params), X, **_settings(net))[-1]
    assert_allclose(out, ref, rtol=1e-12, atol=1e-12)
    assert not np.allclose(out, net.forward(X))
    assert_array_equal(net.state, state)


# ---- training: a step-by-step replay including the running statistics --------------------
def _replay(net, X, Y, *, epochs, batch_size, solver, lr, rng, alpha=0.0, weight_decay=0.01):
    """Minibatch training in float64 with fastmlp.reference; the last one-row minibatch
    joins the one before it. Returns final params, running state and per-epoch losses."""
    w = net.params.astype(np.float64)
    running = [
        [None if m is None else m.astype(np.float64) for m in net.running_mean],
        [None if v is None else v.astype(np.float64) for v in net.running_var],
    ]
    mask = np.zeros_like(w)
    mask[: net.n_weights] = 1.0
    s1, s2, t = np.zeros_like(w), np.zeros_like(w), 0
    n, order, losses = X.shape[0], np.arange(X.shape[0]), []
    for _ in range(epochs):
        order = sk_shuffle(order, random_state=rng)
        starts = list(range(0, n, batch_size))
        if n - starts[-1] == 1:
            starts.pop()
        total = 0.0
        for k, start in enumerate(starts):
            stop = starts[k + 1] if k + 1 < len(starts) else n
            idx = order[start:stop]
            blocks = _blocks(net, w)
            # The running statistics follow each minibatch's dense outputs.
            A = X[idx].astype(np.float64)
            for l in range(net.n_layers - 1):
                Z = A @ blocks["coefs"][l] + blocks["intercepts"][l]
                if blocks["gamma"][l] is not None:
                    running[0][l], running[1][l] = reference.update_running_statistics(
                        running[0][l], running[1][l], Z, net.batch_norm_momentum
                    )
                    Z, _ = reference.batch_norm_forward(
                        Z, blocks["gamma"][l], blocks["beta"][l], net.batch_norm_epsilon
                    )
                A = (
                    reference.prelu(Z, blocks["slopes"][l])
                    if blocks["slopes"][l] is not None
                    else reference.activation(net.hidden_activations[l], Z)
                )
            loss, g = _ref_loss_and_grad(net, w, X[idx], Y[idx], alpha=alpha)
            # Documented: a batch-normalised layer's intercept gets exactly no gradient (the
            # reference's is round-off, which Adam would amplify).
            views = net.unpack(g)
            for l in range(net.n_layers):
                if views["gamma"][l] is not None:
                    views["intercepts"][l][...] = 0.0
            if solver == "sgd":
                w, s1 = reference.sgd_step(w, g, s1, lr, 0.9, True)
            else:
                w, s1, s2, t = reference.adamw_step(
                    w, g, s1, s2, t, lr, weight_decay=weight_decay, decay_mask=mask
                )
            total += loss * len(idx)
        losses.append(total / n)
    return w, running, np.asarray(losses)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("solver", ["sgd", "adamw"])
def test_training_replays_step_by_step(solver, dtype):
    rng = np.random.RandomState(5)
    n, batch_size = 2 * 8 + 1, 8  # the last minibatch has one row: it joins the one before
    X = rng.normal(size=(n, 4)).astype(dtype)
    Y = rng.normal(size=(n, 2)).astype(dtype)
    net = Network(
        [4, 6, 5, 2],
        activation=["prelu", "tanh"],
        batch_norm=[True, True],
        dtype=dtype,
        random_state=5,
        batch_norm_momentum=0.3,
    )
    start = Network(
        [4, 6, 5, 2],
        activation=["prelu", "tanh"],
        batch_norm=[True, True],
        dtype=dtype,
        random_state=5,
        batch_norm_momentum=0.3,
    )
    history = net.fit(
        X,
        Y,
        solver=solver,
        learning_rate_init=0.01,
        batch_size=batch_size,
        max_iter=3,
        random_state=np.random.RandomState(7),
        alpha=0.1,
        tol=0.0,
        n_iter_no_change=100,
    )
    w, running, losses = _replay(
        start,
        X,
        Y,
        epochs=3,
        batch_size=batch_size,
        solver=solver,
        lr=0.01,
        rng=np.random.RandomState(7),
        alpha=0.1,
    )
    rtol, atol = (1e-10, 1e-12) if dtype == "float64" else (2e-4, 1e-5)
    assert_allclose(net.params, w, rtol=rtol, atol=atol)
    assert_allclose(history.loss, losses, rtol=rtol, atol=atol)
    for l in range(2):
        assert_allclose(net.running_mean[l], running[0][l], rtol=rtol, atol=atol)
        assert_allclose(net.running_var[l], running[1][l], rtol=rtol, atol=atol)
    assert not np.allclose(net.slopes[0], 0.25)


# ---- diagnostics ----------------------------------------------------------------------------
def test_diagnostics_cover_the_new_parameters():
    rng = np.random.RandomState(0)
    X, Y = rng.normal(size=(64, 4)), rng.normal(size=(64, 2))
    net = Network(
        [4, 6, 6, 2], activation=["prelu", "relu"], batch_norm=[True, False], random_state=0
    )
    history = net.fit(X, Y, max_iter=2, batch_size=16, diagnostics=True)
    assert history.dead_fraction[:, 0].tolist() == [0.0, 0.0]  # PReLU never dead
    assert np.all(np.isfinite(history.layer_grad_norms))
    # The first layer's norm includes gamma, beta and slopes: one batch's gradient, by hand.
    net2 = Network(
        [4, 6, 6, 2], activation=["prelu", "relu"], batch_norm=[True, False], random_state=0
    )
    h1 = net2.fit(X, Y, max_iter=1, batch_size=64, shuffle=False, diagnostics=True)
    fresh = Network(
        [4, 6, 6, 2], activation=["prelu", "relu"], batch_norm=[True, False], random_state=0
    )
    _, grad = fresh.loss_and_grad(X, Y)
    views = fresh.unpack(grad)
    expected = np.sqrt(sum(np.sum(views[k][0] ** 2) for k in views if views[k][0] is not None))
    assert_allclose(h1.layer_grad_norms[0, 0], expected, rtol=1e-10)


def test_one_compilation_serves_batch_norm_and_prelu_at_every_depth():
    # Two variants per dtype, whatever the depth: plain networks (the batch-norm and PReLU
    # kernels pruned away) and networks with either.
    cpu = backend.target("cpu").kernels
    rng = np.random.RandomState(0)
    X, Y = rng.normal(size=(20, 4)), rng.normal(size=(20, 3))

    def use(hidden, batch_norm, activation):
        net = Network([4, *hidden, 3], activation=activation, batch_norm=batch_norm, random_state=0)
        net.fit(X, Y, max_iter=1, batch_size=5)
        net.loss_and_grad(X, Y)
        net.forward(X)

    use([8], False, "relu")
    use([8], True, "relu")
    kernels = (cpu.train_epoch, cpu.loss_and_grad, cpu.forward)
    counts = [len(k.signatures) for k in kernels]
    for hidden in ([], [8, 8], [6, 5, 4]):
        if hidden:
            use(hidden, True, "prelu")
        use(hidden, False, "prelu")
        use(hidden, True, "tanh")
    assert [len(k.signatures) for k in kernels] == counts


def test_early_stopping_keeps_the_best_parameters_and_their_statistics():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 4))
    Y = np.eye(3)[(X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)]
    net = Network(
        [4, 16, 3],
        activation="prelu",
        batch_norm=True,
        output_activation="softmax",
        loss="log_loss",
        random_state=0,
    )
    history = net.fit(
        X,
        Y,
        early_stopping=True,
        validation_fraction=0.25,
        max_iter=40,
        batch_size=10,
        learning_rate_init=0.05,
        random_state=0,
        n_iter_no_change=5,
        dropout=0.2,
    )
    assert history.loss[-1] < history.loss[0]
    # The score is the inference loss (running statistics); the best epoch is restored
    # with the running statistics that went with it.
    X_val, Y_val = _validation_split(X, Y, 0.25)
    P = np.clip(net.forward(X_val), 1e-15, 1)
    assert_allclose(
        -np.mean(np.sum(Y_val * np.log(P), axis=1)), -np.max(history.validation_score), rtol=1e-10
    )


def _validation_split(X, Y, fraction):
    from sklearn.model_selection import train_test_split

    _, X_val, _, Y_val = train_test_split(
        X, Y, test_size=fraction, random_state=np.random.RandomState(0)
    )
    return X_val, Y_val


# ---- estimators -----------------------------------------------------------------------------
def _digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X[:400] / 16.0, y[:400]


def test_classifier_with_batch_norm_and_prelu_learns():
    from fastmlp import MLPClassifier

    X, y = _digits()
    clf = MLPClassifier(
        hidden_layer_sizes=(32, 32),
        activation="prelu",
        batch_norm=True,
        max_iter=30,
        random_state=0,
        batch_size=33,
    )  # 400 % 33 == 4
    clf.fit(X, y)
    assert clf.score(X, y) > 0.95
    net = clf._net
    assert net.has_batch_norm and net.slopes[0] is not None
    assert not np.allclose(net.running_var[1], 1.0)
    assert clf.get_params()["batch_norm"] is True


def test_estimator_defaults_are_unchanged():
    from fastmlp import MLPRegressor

    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(50, 4)), rng.normal(size=50)
    a = MLPRegressor(hidden_layer_sizes=(6,), max_iter=5, random_state=0).fit(X, y)
    b = MLPRegressor(
        hidden_layer_sizes=(6,),
        max_iter=5,
        random_state=0,
        batch_norm=False,
        batch_norm_momentum=0.5,
    ).fit(X, y)
    assert_array_equal(a.predict(X), b.predict(X))
    assert a._net.state.size == 0


def test_estimator_refuses_one_row_batches():
    from fastmlp import MLPRegressor

    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(20, 3)), rng.normal(size=20)
    with pytest.raises(ValueError, match="batch_size=1"):
        MLPRegressor(hidden_layer_sizes=(4,), batch_norm=True, batch_size=1).fit(X, y)
    reg = MLPRegressor(hidden_layer_sizes=(4,), batch_norm=True, batch_size=5)
    with pytest.raises(ValueError, match="at least 2 rows"):
        reg.partial_fit(X[:1], y[:1])
    reg.partial_fit(X[:2], y[:2])
    with pytest.raises(ValueError, match="batch_norm_momentum"):
        MLPRegressor(batch_norm=True, batch_norm_momentum=0.0).fit(X, y)


def test_lbfgs_sets_the_running_statistics_from_the_whole_set():
    from fastmlp import MLPRegressor

    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(40, 3)), rng.normal(size=40)
    reg = MLPRegressor(
        hidden_layer_sizes=(5,), solver="lbfgs", batch_norm=True, max_iter=20, random_state=0
    ).fit(X, y)
    net = reg._net
    Z = X @ net.coefs[0] + net.intercepts[0]
    assert_allclose(net.running_mean[0], Z.mean(axis=0), rtol=1e-10, atol=1e-12)
    assert_allclose(net.running_var[0], Z.var(axis=0, ddof=1), rtol=1e-10)
    # Inference then equals training-mode outputs up to the unbiased/biased variance.
    assert_allclose(net.forward(X), net.forward(X, training=True), rtol=0.05, atol=0.05)


def test_saved_estimator_keeps_batch_norm_and_slopes(tmp_path):
    import fastmlp

    X, y = _digits()
    clf = fastmlp.MLPClassifier(
        hidden_layer_sizes=(16,),
        activation="prelu",
        batch_norm=True,
        batch_norm_momentum=0.2,
        max_iter=3,
        random_state=0,
        early_stopping=True,
    )
    clf.fit(X, y)
    path = tmp_path / "bn.npz"
    clf.save(path)
    loaded = fastmlp.load(path)
    net, back = clf._net, loaded._net
    assert back.batch_norm == [True] and back.batch_norm_momentum == 0.2
    assert_array_equal(back.state, net.state)
    assert_array_equal(back.slopes[0], net.slopes[0])
    assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert_array_equal(loaded._progress.best_state, clf._progress.best_state)
