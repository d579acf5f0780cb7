"""Training with ``Network.fit``: the compiled epochs against a step-by-step replay
with ``fastmlp.reference``, regularisers, dropout, reproducibility, stopping rules,
diagnostics, numerical safety, argument checks, and that it learns.

The replays share no code with the kernels: each minibatch's gradient comes from
``reference.loss_and_grad`` (or, with dropout, from a few lines of NumPy below), and each
update from the ``reference.*_step`` functions.
"""

import re
import warnings

import numpy as np
import pytest
from _helpers import (  # the float64 replay, shared with the property tests
    pack as _pack,
)
from _helpers import (
    replay as _replay,
)
from _helpers import (
    spec as _spec,
)
from _helpers import (
    tolerances as _tolerances,
)
from _helpers import (
    unpack as _unpack,
)
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state

from fastmlp import Network, reference
from fastmlp.training import DivergenceError

DTYPES = ["float32", "float64"]
SIZES = [4, 5, 3]
N_SAMPLES = 30
BATCH = 8  # 30 samples: batches of 8, 8, 8 and a last partial one of 6
EPOCHS = 4
NO_STOP = dict(tol=0.0, n_iter_no_change=1000)  # nothing stops early
FULL_RUN = dict(NO_STOP, diagnostics=True)  # ... and every diagnostic is recorded

# Optimizer settings: non-default hyperparameters, so that a mixed-up slot shows.
OPTIMIZERS = {
    "sgd_plain": dict(solver="sgd", learning_rate_init=0.2, momentum=0.0),
    "sgd_momentum": dict(
        solver="sgd", learning_rate_init=0.1, momentum=0.8, nesterovs_momentum=False
    ),
    "sgd_nesterov": dict(
        solver="sgd", learning_rate_init=0.1, momentum=0.7, nesterovs_momentum=True
    ),
    "adam": dict(solver="adam", learning_rate_init=0.02, beta_1=0.8, beta_2=0.99, epsilon=1e-7),
    "adamw": dict(
        solver="adamw",
        learning_rate_init=0.02,
        beta_1=0.85,
        beta_2=0.995,
        epsilon=1e-6,
        weight_decay=0.3,
    ),
    "adagrad": dict(solver="adagrad", learning_rate_init=0.1, epsilon=1e-6),
    "rmsprop": dict(solver="rmsprop", learning_rate_init=0.01, rho=0.8, epsilon=1e-7),
}
SCHEDULES = {
    "constant": dict(learning_rate="constant"),
    "invscaling": dict(learning_rate="invscaling", power_t=0.4),
    "step": dict(learning_rate="step", lr_gamma=0.5, lr_step_size=2),
    "exponential": dict(learning_rate="exponential", lr_gamma=0.6),
    # horizon shorter than the run: the rate reaches lr_min at epoch 2 and stays there
    "cosine": dict(learning_rate="cosine", lr_horizon=2, lr_min=1e-3),
    # default horizon: max_iter
    "cosine_max_iter": dict(learning_rate="cosine", lr_min=1e-3),
    # no trigger within the run (tol=0, n_iter_no_change large): the rate stays put
    "adaptive": dict(learning_rate="adaptive"),
}


def _data(n=N_SAMPLES, n_in=4, n_out=3, seed=0, classes=True):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, n_in)
    if classes:
        Y = np.eye(n_out)[rng.randint(n_out, size=n)]
    else:
        Y = rng.randn(n, n_out)
    return X, Y


def _net(
    dtype="float64",
    sizes=SIZES,
    activation="tanh",
    output="softmax",
    loss="log_loss",
    random_state=0,
):
    return Network(
        sizes,
        activation=activation,
        output_activation=output,
        loss=loss,
        dtype=dtype,
        random_state=random_state,
    )


def _check_against(net, history, replayed, dtype):
    w, losses, norms, rates = replayed
    rtol, atol = _tolerances(dtype)
    assert len(history) == len(losses)
    assert_allclose(net.params, w, rtol=rtol, atol=atol)
    assert_allclose(history.loss, losses, rtol=rtol, atol=atol)
    assert_allclose(history.grad_norm, norms, rtol=rtol, atol=atol)
    assert_allclose(history.learning_rate, rates, rtol=1e-14)


# ---- 1. trajectories against the reference -------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("schedule", list(SCHEDULES))
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_trajectory_matches_reference(optimizer, schedule, dtype):
    X, Y = _data()
    net = _net(dtype)
    options = dict(OPTIMIZERS[optimizer], **SCHEDULES[schedule])
    params0 = net.params.astype(np.float64)
    history = net.fit(X, Y, batch_size=BATCH, max_iter=EPOCHS, shuffle=False, **FULL_RUN, **options)
    assert net.params.dtype == np.dtype(dtype)
    replayed = _replay(
        params0, X.astype(dtype), Y, _spec(net), epochs=EPOCHS, batch_size=BATCH, **options
    )
    _check_against(net, history, replayed, dtype)
    if schedule in ("constant", "adaptive"):
        assert np.all(history.learning_rate == options["learning_rate_init"])
    else:
        assert len(set(history.learning_rate)) > 1


@pytest.mark.parametrize(
    "activation, output, loss",
    [
        ("relu", "identity", "squared_error"),
        ("logistic", "logistic", "binary_log_loss"),
        ("elu", "softmax", "squared_error"),
    ],
)
@pytest.mark.parametrize("optimizer", ["sgd_nesterov", "adam"])
def test_trajectory_other_losses(optimizer, activation, output, loss):
    X, _ = _data()
    Y = _data(classes=False)[1]
    if loss != "squared_error" or output == "softmax":
        Y = (Y > 0).astype(float)
    net = _net(sizes=[4, 6, 5, 3], activation=activation, output=output, loss=loss)
    options = OPTIMIZERS[optimizer]
    params0 = net.params.copy()
    history = net.fit(
        X, Y, batch_size=7, max_iter=3, shuffle=False, alpha=0.01, **FULL_RUN, **options
    )
    replayed = _replay(params0, X, Y, _spec(net), epochs=3, batch_size=7, alpha=0.01, **options)
    _check_against(net, history, replayed, "float64")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("optimizer", ["sgd_momentum", "adam", "adamw"])
def test_sample_weights_match_reference(optimizer, dtype):
    # Each batch's loss and gradient average over its weight total S; the L2 and L1 terms
    # are divided by S too; the epoch loss weights each batch by its length.
    X, Y = _data()
    sw = np.random.RandomState(5).uniform(0.1, 3.0, N_SAMPLES)
    sw[[2, 9]] = 0.0
    net = _net(dtype)
    params0 = net.params.astype(np.float64)
    options = dict(OPTIMIZERS[optimizer], alpha=0.2, l1=0.01)
    history = net.fit(
        X,
        Y,
        sample_weight=sw,
        batch_size=BATCH,
        max_iter=3,
        shuffle=True,
        random_state=1,
        **FULL_RUN,
        **options,
    )
    replayed = _replay(
        params0,
        X.astype(dtype),
        Y,
        _spec(net),
        epochs=3,
        batch_size=BATCH,
        sample_weight=sw.astype(dtype),
        shuffle_rng=check_random_state(1),
        **options,
    )
    _check_against(net, history, replayed, dtype)


@pytest.mark.parametrize("batch_size", [1, 13, 30, 500])
def test_batch_sizes_including_partial_and_oversized(batch_size):
    X, Y = _data()
    net = _net()
    params0 = net.params.copy()
    options = OPTIMIZERS["adam"]
    history = net.fit(X, Y, batch_size=batch_size, max_iter=2, shuffle=False, **FULL_RUN, **options)
    replayed = _replay(params0, X, Y, _spec(net), epochs=2, batch_size=batch_size, **options)
    _check_against(net, history, replayed, "float64")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("optimizer", ["sgd_nesterov", "adam", "rmsprop"])
def test_shuffle_follows_sklearn_order(optimizer, dtype):
    X, Y = _data()
    net = _net(dtype, random_state=3)
    params0 = net.params.astype(np.float64)
    options = OPTIMIZERS[optimizer]
    history = net.fit(
        X,
        Y,
        batch_size=BATCH,
        max_iter=EPOCHS,
        shuffle=True,
        random_state=11,
        **FULL_RUN,
        **options,
    )
    replayed = _replay(
        params0,
        X.astype(dtype),
        Y,
        _spec(net),
        epochs=EPOCHS,
        batch_size=BATCH,
        shuffle_rng=check_random_state(11),
        **options,
    )
    _check_against(net, history, replayed, dtype)


def test_shuffle_takes_a_randomstate_instance():
    X, Y = _data()
    a, b = _net(), _net()
    a.fit(X, Y, batch_size=BATCH, max_iter=3, random_state=5, **FULL_RUN)
    b.fit(X, Y, batch_size=BATCH, max_iter=3, random_state=np.random.RandomState(5), **FULL_RUN)
    assert_array_equal(a.params, b.params)


def test_adaptive_rate_used_after_trigger_matches_reference():
    # tol huge, n_iter_no_change=1: triggers after epochs 3 and 5; epochs 4-5 run at lr/5,
    # epochs 6-7 at lr/25.
    X, Y = _data()
    net = _net()
    params0 = net.params.copy()
    options = dict(OPTIMIZERS["sgd_momentum"], learning_rate="adaptive")
    lr = options["learning_rate_init"]
    history = net.fit(
        X,
        Y,
        batch_size=BATCH,
        max_iter=7,
        shuffle=False,
        tol=1e6,
        n_iter_no_change=1,
        diagnostics=True,
        **options,
    )
    rates = [lr, lr, lr, lr / 5, lr / 5, lr / 25, lr / 25]
    assert_allclose(history.learning_rate, rates, rtol=1e-15)
    replayed = _replay(
        params0, X, Y, _spec(net), epochs=7, batch_size=BATCH, rates=rates, **options
    )
    _check_against(net, history, replayed, "float64")


# ---- 2. regularisers -----------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "penalty",
    [
        dict(alpha=0.5),
        dict(l1=0.05),
        dict(alpha=0.2, l1=0.02),
    ],
)
@pytest.mark.parametrize("optimizer", ["sgd_momentum", "adam", "adamw", "adagrad"])
def test_l1_l2_match_reference(optimizer, penalty, dtype):
    X, Y = _data()
    net = _net(dtype)
    params0 = net.params.astype(np.float64)
    options = dict(OPTIMIZERS[optimizer], **penalty)
    history = net.fit(X, Y, batch_size=BATCH, max_iter=3, shuffle=False, **FULL_RUN, **options)
    replayed = _replay(
        params0, X.astype(dtype), Y, _spec(net), epochs=3, batch_size=BATCH, **options
    )
    _check_against(net, history, replayed, dtype)


def test_l1_leaves_intercepts_alone_and_shrinks_weights():
    X, Y = _data()
    plain, sparse = _net(), _net()
    options = dict(OPTIMIZERS["sgd_plain"], batch_size=N_SAMPLES, max_iter=1, shuffle=False)
    plain.fit(X, Y, **options)
    sparse.fit(X, Y, l1=0.5, **options)
    lr = options["learning_rate_init"]
    nw = plain.n_weights
    # One full-batch step: the L1 subgradient moves every nonzero weight by lr * l1 / n
    # towards zero, and no intercept.
    start = _net().params
    expected = -lr * 0.5 * np.sign(start[:nw]) / N_SAMPLES
    assert_allclose(sparse.params[:nw] - plain.params[:nw], expected, rtol=1e-9, atol=1e-15)
    assert_array_equal(sparse.params[nw:], plain.params[nw:])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("optimizer", ["sgd_momentum", "adam", "rmsprop"])
def test_clipping_matches_reference(optimizer, dtype):
    X, Y = _data()
    X = 5 * X  # larger gradients
    net = _net(dtype)
    params0 = net.params.astype(np.float64)
    options = dict(OPTIMIZERS[optimizer], max_grad_norm=0.1, alpha=0.1, l1=0.01)
    history = net.fit(X, Y, batch_size=BATCH, max_iter=3, shuffle=False, **FULL_RUN, **options)
    replayed = _replay(
        params0, X.astype(dtype), Y, _spec(net), epochs=3, batch_size=BATCH, **options
    )
    assert np.all(replayed[2] > 0.1)  # clipping is active in every epoch
    _check_against(net, history, replayed, dtype)  # grad_norm is the norm before clipping


@pytest.mark.parametrize("dtype", DTYPES)
def test_huge_clipping_norm_changes_nothing(dtype):
    X, Y = _data()
    a, b = _net(dtype), _net(dtype)
    ha = a.fit(X, Y, batch_size=BATCH, max_iter=3, random_state=0, **NO_STOP)
    hb = b.fit(X, Y, batch_size=BATCH, max_iter=3, random_state=0, max_grad_norm=1e30, **NO_STOP)
    assert_array_equal(a.params, b.params)
    assert_array_equal(ha.loss, hb.loss)


@pytest.mark.parametrize("dtype", DTYPES)
def test_clipping_without_diagnostics_trains_the_same(dtype):
    # Clipping alone computes the gradient norm without the other diagnostics (a separately
    # compiled epoch): it must clip exactly as the fully recorded run does.
    X, Y = _data()
    a, b = _net(dtype), _net(dtype)
    clip = dict(batch_size=BATCH, max_iter=3, random_state=0, max_grad_norm=0.05)
    ha = a.fit(X, Y, **clip, **NO_STOP)
    hb = b.fit(X, Y, **clip, **FULL_RUN)
    assert_array_equal(a.params, b.params)
    assert_array_equal(ha.loss, hb.loss)
    assert ha.grad_norm.size == 0 and np.all(hb.grad_norm > 0.05)  # clipping was active


@pytest.mark.parametrize("rate", [0.0, [0.0], (0.0,)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_zero_dropout_changes_nothing(rate, dtype):
    X, Y = _data()
    a, b = _net(dtype), _net(dtype)
    ha = a.fit(X, Y, batch_size=BATCH, max_iter=3, random_state=4, **FULL_RUN)
    hb = b.fit(X, Y, batch_size=BATCH, max_iter=3, random_state=4, dropout=rate, **FULL_RUN)
    assert_array_equal(a.params, b.params)
    assert_array_equal(ha.loss, hb.loss)


@pytest.mark.parametrize(
    "sizes, dropout",
    [
        ([4, 6, 3], 0.5),
        ([4, 6, 5, 3], [0.3, 0.0]),
        ([4, 6, 5, 3], [0.0, 0.4]),
        ([4, 6, 5, 3], 0.25),
    ],
)
def test_dropout_matches_masked_replay(sizes, dropout):
    """Masks come from Numba's generator (the same Mersenne Twister as NumPy's RandomState),
    seeded each epoch with one draw from the fit's random state after the shuffle."""
    X, Y = _data()
    net = _net(sizes=sizes, activation="tanh")
    params0 = net.params.copy()
    rates = [dropout] * (len(sizes) - 2) if np.isscalar(dropout) else list(dropout)
    options = dict(OPTIMIZERS["sgd_momentum"], alpha=0.05)
    history = net.fit(
        X,
        Y,
        batch_size=BATCH,
        max_iter=3,
        shuffle=True,
        random_state=8,
        dropout=dropout,
        **FULL_RUN,
        **options,
    )
    replayed = _replay(
        params0,
        X,
        Y,
        _spec(net),
        epochs=3,
        batch_size=BATCH,
        shuffle_rng=check_random_state(8),
        dropout=rates,
        **options,
    )
    _check_against(net, history, replayed, "float64")


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_is_deterministic_per_seed_and_off_at_predict(dtype):
    X, Y = _data()
    runs = {}
    for name, seed in [("a", 1), ("b", 1), ("c", 2)]:
        net = _net(dtype, sizes=[4, 8, 3])
        net.fit(
            X,
            Y,
            batch_size=BATCH,
            max_iter=3,
            shuffle=False,
            random_state=seed,
            dropout=0.5,
            **FULL_RUN,
        )
        runs[name] = net
    assert_array_equal(runs["a"].params, runs["b"].params)
    assert not np.array_equal(runs["a"].params, runs["c"].params)
    # shuffle=False: the seed only reaches the masks, so dropout really draws masks
    net = runs["a"]
    out1, out2 = net.forward(X), net.forward(X)
    assert_array_equal(out1, out2)
    coefs, intercepts = _unpack(net.params.astype(np.float64), list(net.layer_sizes))
    plain = reference.forward(coefs, intercepts, X.astype(dtype), ["tanh"], "softmax")[-1]
    assert_allclose(out1, plain, rtol=_tolerances(dtype)[0], atol=_tolerances(dtype)[1])


def test_dropout_half_still_learns():
    rng = np.random.RandomState(0)
    centers = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.5]])
    labels = rng.randint(3, size=300)
    X = centers[labels] + 0.6 * rng.randn(300, 2)
    Y = np.eye(3)[labels]
    net = _net(sizes=[2, 32, 3], activation="relu", random_state=1)
    initial = net.loss_and_grad(X[200:], Y[200:])[0]
    net.fit(
        X[:200],
        Y[:200],
        solver="adam",
        learning_rate_init=0.01,
        batch_size=20,
        max_iter=40,
        random_state=0,
        dropout=0.5,
        **FULL_RUN,
    )
    assert net.loss_and_grad(X[200:], Y[200:])[0] < 0.5 * initial
    accuracy = np.mean(net.forward(X[200:]).argmax(1) == labels[200:])
    assert accuracy >= 0.9


# ---- 3. reproducibility ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "options",
    [
        dict(),
        dict(dropout=0.3),
        dict(solver="sgd", l1=0.01, max_grad_norm=0.5),
    ],
)
def test_same_random_state_same_weights(options):
    X, Y = _data()
    nets = [
        Network(
            [4, 7, 6, 3],
            activation="relu",
            output_activation="softmax",
            loss="log_loss",
            random_state=12,
        )
        for _ in range(2)
    ]
    histories = [
        net.fit(X, Y, batch_size=7, max_iter=4, shuffle=True, random_state=3, **FULL_RUN, **options)
        for net in nets
    ]
    assert_array_equal(nets[0].params, nets[1].params)
    assert_array_equal(histories[0].loss, histories[1].loss)
    other = Network(
        [4, 7, 6, 3],
        activation="relu",
        output_activation="softmax",
        loss="log_loss",
        random_state=12,
    )
    other.fit(X, Y, batch_size=7, max_iter=4, shuffle=True, random_state=4, **FULL_RUN, **options)
    assert not np.array_equal(other.params, nets[0].params)


# ---- 4. stopping -----------------------------------------------------------------------------
@pytest.mark.parametrize("n_iter_no_change", [1, 2, 5])
def test_tol_stops_after_n_iter_no_change_plus_one_stale_epochs(n_iter_no_change):
    # The first epoch improves on +inf; then every epoch fails to improve by tol, and the
    # (n_iter_no_change + 1)-th such epoch stops training, as scikit-learn counts.
    from sklearn.neural_network import MLPRegressor

    X, Y = _data(classes=False)
    net = _net(output="identity", loss="squared_error")
    history = net.fit(
        X,
        Y,
        solver="sgd",
        learning_rate_init=1e-6,
        batch_size=10,
        max_iter=100,
        tol=10.0,
        n_iter_no_change=n_iter_no_change,
    )
    assert len(history) == n_iter_no_change + 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk = MLPRegressor(
            hidden_layer_sizes=(5,),
            solver="sgd",
            learning_rate_init=1e-6,
            batch_size=10,
            max_iter=100,
            tol=10.0,
            n_iter_no_change=n_iter_no_change,
            random_state=0,
        ).fit(X, Y)
    assert sk.n_iter_ == len(history)


def test_improving_loss_runs_to_max_iter():
    X, Y = _data()
    net = _net()
    history = net.fit(
        X,
        Y,
        solver="adam",
        learning_rate_init=0.01,
        batch_size=N_SAMPLES,
        max_iter=9,
        tol=0.0,
        n_iter_no_change=1,
    )
    assert len(history) == 9
    assert np.all(np.diff(history.loss) < 0)


@pytest.mark.parametrize("max_iter", [1, 3])
def test_max_iter_respected(max_iter):
    X, Y = _data()
    history = _net().fit(X, Y, batch_size=BATCH, max_iter=max_iter, **FULL_RUN)
    assert len(history) == max_iter
    for name in (
        "loss",
        "learning_rate",
        "grad_norm",
        "layer_grad_norms",
        "dead_fraction",
        "update_ratio",
    ):
        assert len(getattr(history, name)) == max_iter


def test_adaptive_divides_by_five_and_stops_below_1e_6():
    X, Y = _data(classes=False)
    net = _net(output="identity", loss="squared_error")
    history = net.fit(
        X,
        Y,
        solver="sgd",
        learning_rate="adaptive",
        learning_rate_init=1e-3,
        batch_size=10,
        max_iter=100,
        tol=10.0,
        n_iter_no_change=1,
    )
    # triggers after epochs 3, 5, 7, 9, 11 divide the rate; at epoch 13 the rate is
    # 1e-3 / 5**5 = 3.2e-7 <= 1e-6 and training stops.
    expected = [1e-3] * 3
    for k in range(1, 6):
        expected += [1e-3 / 5**k] * 2
    assert len(history) == 13
    assert_allclose(history.learning_rate, expected, rtol=1e-14)


def _overfitting_problem():
    rng = np.random.RandomState(0)
    X = rng.randn(60, 6)
    Y = rng.randn(60, 2)  # noise: the validation loss first falls (towards the mean), then rises
    return X, Y


def _overfit(net, X, Y, max_iter):
    return net.fit(
        X,
        Y,
        solver="adam",
        learning_rate_init=0.03,
        batch_size=10,
        max_iter=max_iter,
        random_state=2,
        early_stopping=True,
        validation_fraction=0.25,
        **FULL_RUN,
    )


def test_early_stopping_restores_best_weights():
    X, Y = _overfitting_problem()
    net = Network([6, 32, 2], activation="relu", random_state=0)
    start = net.params.copy()
    history = _overfit(net, X, Y, 40)
    scores = history.validation_score
    assert len(scores) == len(history) == 40
    best = int(np.argmax(scores))
    assert best < len(scores) - 5  # the run went on past its best epoch
    # the held-out part is train_test_split's, drawn first from the fit's random state
    _, X_val, _, Y_val = train_test_split(X, Y, test_size=0.25, random_state=check_random_state(2))
    assert -net.loss_and_grad(X_val, Y_val)[0] == scores[best]
    # the same run stopped at the best epoch ends with the same weights
    again = Network([6, 32, 2], activation="relu", random_state=0)
    assert_array_equal(again.params, start)
    short = _overfit(again, X, Y, best + 1)
    assert_array_equal(short.validation_score, scores[: best + 1])
    assert_array_equal(again.params, net.params)


@pytest.mark.parametrize("n_iter_no_change", [1, 3])
def test_early_stopping_counts_on_validation_score(n_iter_no_change):
    X, Y = _overfitting_problem()
    net = Network([6, 8, 2], activation="relu", random_state=0)
    history = net.fit(
        X,
        Y,
        solver="sgd",
        learning_rate_init=1e-6,
        batch_size=10,
        max_iter=100,
        random_state=0,
        early_stopping=True,
        validation_fraction=0.2,
        tol=10.0,
        n_iter_no_change=n_iter_no_change,
    )
    assert len(history) == len(history.validation_score) == n_iter_no_change + 2


def test_tiny_validation_fraction_keeps_one_sample():
    X, Y = _data(n=3)
    net = _net()
    history = net.fit(
        X,
        Y,
        batch_size=2,
        max_iter=2,
        early_stopping=True,
        validation_fraction=0.1,
        random_state=0,
        **FULL_RUN,
    )
    assert len(history.validation_score) == 2
    assert np.all(np.isfinite(history.validation_score))


# ---- 5. diagnostics --------------------------------------------------------------------------
def test_history_shapes_and_dead_fraction_nan_for_non_relu():
    X, Y = _data()
    net = _net(sizes=[4, 5, 6, 3], activation=["relu", "tanh"])
    history = net.fit(X, Y, batch_size=BATCH, max_iter=3, **FULL_RUN)
    assert history.loss.shape == (3,)
    assert history.learning_rate.shape == (3,)
    assert history.grad_norm.shape == (3,)
    assert history.layer_grad_norms.shape == (3, 3)
    assert history.dead_fraction.shape == (3, 2)
    assert history.update_ratio.shape == (3, 3)
    assert np.all(np.isnan(history.dead_fraction[:, 1]))
    assert np.all((history.dead_fraction[:, 0] >= 0) & (history.dead_fraction[:, 0] <= 1))
    for name in ("loss", "grad_norm", "layer_grad_norms", "update_ratio"):
        assert np.all(np.isfinite(getattr(history, name))), name


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_dead_units_reported(activation):
    X, Y = _data()
    net = _net(sizes=[4, 5, 6, 3], activation=[activation, "relu"])
    net.intercepts[0][:3] = -1e3  # never fire
    net.intercepts[0][3:] = 1e3  # always fire
    net.intercepts[1][:] = -1e3  # the whole second layer is dead
    history = net.fit(
        X, Y, solver="sgd", learning_rate_init=0.01, batch_size=BATCH, max_iter=2, **FULL_RUN
    )
    assert_allclose(history.dead_fraction, [[0.6, 1.0], [0.6, 1.0]], rtol=1e-15)


@pytest.mark.parametrize("fires_on", [0, 3, 4, 5, 6])
def test_a_unit_firing_on_one_row_of_a_batch_is_alive(fires_on):
    """Peaks are tracked four rows at a time: every row counts, the tail's too."""
    X = np.zeros((7, 1))
    X[fires_on] = 1.0
    Y = np.zeros((7, 1))
    net = Network([1, 2, 1], output_activation="identity", loss="squared_error", random_state=0)
    net.coefs[0][:] = [[1.0, 0.0]]
    net.intercepts[0][:] = [-0.5, -1.0]  # unit 0 fires on the row with x = 1 only; unit 1 never
    history = net.fit(
        X,
        Y,
        solver="sgd",
        learning_rate_init=1e-9,
        batch_size=7,
        shuffle=False,
        max_iter=1,
        **FULL_RUN,
    )
    assert history.dead_fraction.tolist() == [[0.5]]


@pytest.mark.parametrize("dtype", DTYPES)
def test_grad_norm_of_a_single_full_batch(dtype):
    X, Y = _data()
    net = _net(dtype, sizes=[4, 5, 6, 3])
    coefs, intercepts = _unpack(net.params.astype(np.float64), [4, 5, 6, 3])
    _, gW, gb = reference.loss_and_grad(
        coefs, intercepts, X.astype(dtype), Y, ["tanh"] * 2, "softmax", "log_loss", alpha=0.3
    )
    history = net.fit(X, Y, batch_size=1000, max_iter=1, alpha=0.3, **FULL_RUN)
    rtol = _tolerances(dtype)[0]
    assert_allclose(history.grad_norm, [np.linalg.norm(_pack(gW, gb))], rtol=rtol)
    layer = [np.sqrt(np.sum(w**2) + np.sum(b**2)) for w, b in zip(gW, gb)]
    assert_allclose(history.layer_grad_norms, [layer], rtol=rtol)


def test_update_ratio_of_one_epoch():
    X, Y = _data()
    net = _net(sizes=[4, 5, 6, 3])
    before = [W.copy() for W in net.coefs]
    history = net.fit(
        X, Y, solver="adam", learning_rate_init=0.05, batch_size=BATCH, max_iter=1, **FULL_RUN
    )
    expected = [np.linalg.norm(W - W0) / np.linalg.norm(W) for W, W0 in zip(net.coefs, before)]
    assert_allclose(history.update_ratio, [expected], rtol=1e-12)


def test_verbose_prints_iterations(capsys):
    X, Y = _data()
    history = _net().fit(X, Y, batch_size=BATCH, max_iter=3, verbose=True, **FULL_RUN)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Iter")]
    assert lines == [f"Iteration {i + 1}, loss = {loss:.8f}" for i, loss in enumerate(history.loss)]
    assert re.fullmatch(r"Iteration 1, loss = \d+\.\d{8}", lines[0])


# ---- 6. numerical safety -------------------------------------------------------------------
def test_divergence_error_is_a_value_error():
    assert issubclass(DivergenceError, ValueError)


@pytest.mark.parametrize("learning_rate_init, batch_size", [(1e6, 30), (0.1, 8)])
def test_divergence_keeps_last_finite_epoch(learning_rate_init, batch_size):
    rng = np.random.RandomState(0)
    X = 100 * rng.randn(30, 4)  # unscaled inputs
    Y = rng.randn(30, 2)
    fit = dict(
        solver="sgd",
        learning_rate_init=learning_rate_init,
        batch_size=batch_size,
        shuffle=False,
        momentum=0.0,
        **FULL_RUN,
    )
    net = Network([4, 8, 2], activation="relu", random_state=0)
    with pytest.raises(DivergenceError) as info:
        net.fit(X, Y, max_iter=50, **fit)
    message = str(info.value)
    epoch = int(re.search(r"epoch (\d+)", message).group(1))
    assert epoch >= 2
    assert "smaller learning" in message
    assert np.all(np.isfinite(net.params))
    finite = Network([4, 8, 2], activation="relu", random_state=0)
    finite.fit(X, Y, max_iter=epoch - 1, **fit)
    assert_array_equal(net.params, finite.params)


def test_divergence_in_the_first_epoch_restores_the_start():
    rng = np.random.RandomState(0)
    X = 100 * rng.randn(30, 4)
    Y = rng.randn(30, 2)
    net = Network([4, 8, 2], activation="relu", random_state=0)
    start = net.params.copy()
    with pytest.raises(ValueError, match="epoch 1"):
        net.fit(X, Y, solver="sgd", learning_rate_init=1e6, batch_size=8, shuffle=False)
    assert_array_equal(net.params, start)


@pytest.mark.parametrize("dtype", DTYPES)
def test_confident_wrong_prediction_is_clipped_not_divergent(dtype):
    # A probability that underflows to 0 for the true class: the log loss clips it to eps
    # (scikit-learn's convention, and Network.loss_and_grad's), it is not a divergence.
    X, Y = _data()
    net = _net(dtype)
    net.intercepts[-1][:] = [0.0, 800.0, 0.0]
    params0 = net.params.astype(np.float64)
    expected_first = net.loss_and_grad(X, Y)[0]
    assert np.isfinite(expected_first)
    history = net.fit(
        X,
        Y,
        solver="sgd",
        learning_rate_init=1e-3,
        batch_size=N_SAMPLES,
        max_iter=1,
        shuffle=False,
        momentum=0.0,
        **FULL_RUN,
    )
    assert_allclose(history.loss, [expected_first], rtol=_tolerances(dtype)[0])
    # The fused softmax/log-loss delta (a - y) stays finite where the probability
    # underflowed (the reference's general chain rule, -y/a, would not), so one sgd step
    # moves the parameters by exactly -lr * grad.
    grad = _net_grad_at(net, params0, X, Y)
    assert np.all(np.isfinite(net.params))
    assert_allclose(net.params, params0 - 1e-3 * grad, rtol=_tolerances(dtype)[0], atol=1e-6)


def _net_grad_at(net, params, X, Y):
    probe = Network(
        net.layer_sizes,
        activation=net.activation,
        output_activation=net.output_activation,
        loss=net.loss,
        dtype="float64",
    )
    probe.params[:] = params
    return probe.loss_and_grad(X, Y)[1]


BAD_OPTIONS = [
    dict(solver="lbfgs_typo"),
    dict(solver="SGD"),
    dict(learning_rate="linear"),
    dict(batch_size=0),
    dict(batch_size=-3),
    dict(batch_size=2.5),
    dict(batch_size=8.0),
    dict(batch_size="8"),
    dict(batch_size=True),
    dict(learning_rate_init=0.0),
    dict(learning_rate_init=-0.1),
    dict(learning_rate_init=float("nan")),
    dict(solver="sgd", momentum=1.1),
    dict(solver="sgd", momentum=-0.1),
    dict(beta_1=1.0),
    dict(beta_2=1.0),
    dict(epsilon=0.0),
    dict(dropout=1.0),
    dict(dropout=-0.1),
    dict(dropout=[0.1, 0.2]),
    dict(dropout=[]),
    dict(max_grad_norm=0.0),
    dict(max_grad_norm=-1.0),
    dict(max_iter=0),
    dict(alpha=-1.0),
    dict(l1=-0.5),
    dict(tol=-1.0),
    dict(n_iter_no_change=0),
    dict(early_stopping=True, validation_fraction=0.0),
    dict(early_stopping=True, validation_fraction=1.0),
    dict(early_stopping=True, validation_fraction=1.5),
    dict(learning_rate="step", lr_step_size=0),
    dict(learning_rate="cosine", lr_horizon=0),
]


@pytest.mark.parametrize("options", BAD_OPTIONS, ids=lambda o: repr(o))
def test_bad_arguments_raise_before_any_work(options):
    X, Y = _data()
    net = _net()
    start = net.params.copy()
    with pytest.raises(ValueError):
        net.fit(X, Y, max_iter=options.pop("max_iter", 2), **options)
    assert_array_equal(net.params, start)


@pytest.mark.parametrize("n_samples, fraction", [(1, 0.5), (2, 0.9), (10, 0.999)])
def test_validation_split_leaving_an_empty_side_raises(n_samples, fraction):
    X, Y = _data(n=n_samples)
    net = _net()
    start = net.params.copy()
    with pytest.raises(ValueError, match="validation"):
        net.fit(X, Y, early_stopping=True, validation_fraction=fraction, max_iter=2)
    assert_array_equal(net.params, start)


def test_unknown_option_raises_type_error():
    X, Y = _data()
    net = _net()
    start = net.params.copy()
    with pytest.raises(TypeError):
        net.fit(X, Y, max_iter=2, learning_rate_schedule="constant")
    with pytest.raises(TypeError):
        net.fit(X, Y, max_iter=2, nesterov=True)
    assert_array_equal(net.params, start)


# ---- 7. it learns ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y
    )
    scaler = StandardScaler().fit(X_train)
    return (scaler.transform(X_train), np.eye(10)[y_train], scaler.transform(X_test), y_test)


def test_two_hidden_layers_learn_digits(digits):
    X_train, Y_train, X_test, y_test = digits
    net = Network(
        [64, 100, 50, 10],
        activation="relu",
        output_activation="softmax",
        loss="log_loss",
        dtype="float32",
        random_state=0,
    )
    net.fit(
        X_train,
        Y_train,
        solver="adam",
        learning_rate_init=0.001,
        batch_size=64,
        max_iter=40,
        random_state=0,
        alpha=1e-4,
        **FULL_RUN,
    )
    accuracy = np.mean(net.forward(X_test).argmax(axis=1) == y_test)
    assert accuracy >= 0.97


@pytest.mark.parametrize(
    "options",
    [
        dict(solver="adamw", learning_rate_init=0.003, weight_decay=0.01),
        dict(solver="rmsprop", learning_rate_init=0.003),
        dict(solver="adagrad", learning_rate_init=0.05),
    ],
)
def test_other_optimizers_reduce_the_digits_loss(digits, options):
    X_train, Y_train, _, _ = digits
    net = Network(
        [64, 32, 10],
        activation="relu",
        output_activation="softmax",
        loss="log_loss",
        random_state=0,
    )
    initial = net.loss_and_grad(X_train, Y_train)[0]
    history = net.fit(
        X_train, Y_train, batch_size=64, max_iter=4, random_state=0, **FULL_RUN, **options
    )
    final = net.loss_and_grad(X_train, Y_train)[0]
    assert final < 0.25 * initial
    assert history.loss[-1] < 0.5 * history.loss[0]


def test_sgd_momentum_solves_xor():
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([0.0, 1.0, 1.0, 0.0])
    net = Network(
        [2, 4, 1],
        activation="tanh",
        output_activation="logistic",
        loss="binary_log_loss",
        random_state=1,
    )
    net.fit(
        X,
        y[:, None],
        solver="sgd",
        learning_rate_init=0.5,
        momentum=0.9,
        nesterovs_momentum=True,
        batch_size=4,
        max_iter=300,
        **FULL_RUN,
    )
    assert_array_equal((net.forward(X)[:, 0] > 0.5).astype(float), y)


def test_progress_bar_draws_one_line_on_stderr(capsys):
    X, Y = _data()
    net = _net("float64")
    net.fit(X, Y, max_iter=4, progress_bar=True, **FULL_RUN)
    captured = capsys.readouterr()
    assert captured.out == ""
    frames = captured.err.split("\r")[1:]
    assert len(frames) == 4 and captured.err.endswith("\n")
    assert frames[-1].startswith("[" + "#" * 30 + "] 4/4 epochs  loss ")
    assert frames[1].startswith("[" + "#" * 15 + "." * 15 + "] 2/4 epochs")


@pytest.mark.parametrize("enabled", [True, False])
def test_kernel_calls_pause_the_garbage_collector_and_restore_it(enabled):
    import gc

    from fastmlp.backend import run_kernel

    seen = []

    def kernel(x):
        seen.append(gc.isenabled())
        if x < 0:
            raise ValueError("boom")
        return 2 * x

    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        assert run_kernel(kernel, 21) == 42
        assert gc.isenabled() is enabled
        with pytest.raises(ValueError, match="boom"):
            run_kernel(kernel, -1)
        assert gc.isenabled() is enabled  # restored on errors too
        assert seen == [False, False]
    finally:
        gc.enable() if was else gc.disable()


def test_a_slow_first_kernel_call_says_it_is_compiling(monkeypatch, capsys):
    import time

    from fastmlp import backend

    monkeypatch.setattr(backend, "COMPILE_NOTICE_SECONDS", 0.05)
    monkeypatch.setattr(backend, "_first_calls_done", set())
    monkeypatch.setattr(backend, "_announced", set())

    def slow(x):
        time.sleep(0.3)
        return x

    def fast(x):
        return x

    assert backend.run_kernel(fast, 1, dtype=np.float32) == 1
    assert capsys.readouterr().err == ""  # quick: nothing said
    assert backend.run_kernel(slow, 2, dtype=np.float32) == 2
    assert "compiling kernels for float32" in capsys.readouterr().err
    backend.run_kernel(slow, 3, dtype=np.float32)  # not the first call any more
    backend.run_kernel(slow, 4)  # no dtype: never announced
    assert capsys.readouterr().err == ""
