"""Bad input fails early, in Python, with an error that names the problem."""

import numpy as np
import pytest

from fastmlp import Network

N_IN, N_OUT = 4, 3


@pytest.fixture
def net():
    return Network(
        [N_IN, 5, N_OUT],
        activation="relu",
        output_activation="identity",
        loss="squared_error",
        random_state=0,
    )


@pytest.fixture
def data():
    rng = np.random.RandomState(0)
    return rng.normal(size=(6, N_IN)), rng.normal(size=(6, N_OUT))


# ---- X and Y shapes --------------------------------------------------------------------
@pytest.mark.parametrize("method", ["forward", "loss_and_grad"])
def test_X_1d(net, data, method):
    X, Y = data
    args = (X[0],) if method == "forward" else (X[0], Y[:1])
    with pytest.raises(ValueError, match="2D"):
        getattr(net, method)(*args)


@pytest.mark.parametrize("method", ["forward", "loss_and_grad"])
def test_X_3d(net, data, method):
    X, Y = data
    X3 = X[:, :, None]
    args = (X3,) if method == "forward" else (X3, Y)
    with pytest.raises(ValueError, match="dim 3"):
        getattr(net, method)(*args)


def test_Y_1d(net, data):
    X, Y = data
    with pytest.raises(ValueError, match="2D"):
        net.loss_and_grad(X, Y[:, 0])


def test_Y_3d(net, data):
    X, Y = data
    with pytest.raises(ValueError, match="dim 3"):
        net.loss_and_grad(X, Y[:, :, None])


def test_mismatched_rows(net, data):
    X, Y = data
    with pytest.raises(ValueError, match=r"X has 6 rows but Y has 5"):
        net.loss_and_grad(X, Y[:5])


@pytest.mark.parametrize("method", ["forward", "loss_and_grad"])
def test_wrong_number_of_columns_in_X(net, data, method):
    X, Y = data
    X5 = np.hstack([X, X[:, :1]])
    args = (X5,) if method == "forward" else (X5, Y)
    with pytest.raises(ValueError, match=r"X has 5 columns but the network expects 4 features"):
        getattr(net, method)(*args)


def test_wrong_number_of_columns_in_Y(net, data):
    X, Y = data
    with pytest.raises(ValueError, match=r"Y has 2 columns but the network expects 3 outputs"):
        net.loss_and_grad(X, Y[:, :2])


# ---- non-finite and non-numeric values ----------------------------------------------------
@pytest.mark.parametrize("bad,word", [(np.nan, "NaN"), (np.inf, "infinity"), (-np.inf, "infinity")])
@pytest.mark.parametrize("method", ["forward", "loss_and_grad"])
def test_non_finite_X(net, data, bad, word, method):
    X, Y = data
    X = X.copy()
    X[2, 1] = bad
    args = (X,) if method == "forward" else (X, Y)
    with pytest.raises(ValueError, match=rf"X contains {word}"):
        getattr(net, method)(*args)


@pytest.mark.parametrize("bad,word", [(np.nan, "NaN"), (np.inf, "infinity")])
def test_non_finite_Y(net, data, bad, word):
    X, Y = data
    Y = Y.copy()
    Y[3, 0] = bad
    with pytest.raises(ValueError, match=rf"Y contains {word}"):
        net.loss_and_grad(X, Y)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_non_finite_X_float32_network(dtype):
    net = Network([N_IN, 5, N_OUT], dtype=dtype)
    X = np.ones((3, N_IN))
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="X contains NaN"):
        net.forward(X)


def test_string_X(net, data):
    X, Y = data
    Xs = X.astype(str)
    with pytest.raises(TypeError, match=r"X must hold numbers"):
        net.forward(Xs)
    with pytest.raises(TypeError, match=r"X must hold numbers"):
        net.loss_and_grad(Xs, Y)


def test_string_X_as_nested_list(net):
    with pytest.raises(TypeError, match=r"X must hold numbers"):
        net.forward([["a", "b", "c", "d"]])


def test_string_Y(net, data):
    X, Y = data
    with pytest.raises(TypeError, match=r"Y must hold numbers"):
        net.loss_and_grad(X, Y.astype(str))


@pytest.mark.parametrize("method", ["forward", "loss_and_grad"])
def test_empty_X(net, method):
    X, Y = np.empty((0, N_IN)), np.empty((0, N_OUT))
    args = (X,) if method == "forward" else (X, Y)
    with pytest.raises(ValueError, match=r"0 sample"):
        getattr(net, method)(*args)


# ---- sample weights -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "sw,match",
    [
        ([1, 1, -1, 1, 1, 1], "non-negative"),
        ([1, 1, np.nan, 1, 1, 1], "NaN"),
        ([1, 1, np.inf, 1, 1, 1], "infinity"),
        ([1, 1, 1, 1, 1], r"shape \(6,\)"),
        ([1] * 7, r"shape \(6,\)"),
        ([[1] * 6], r"shape \(6,\)"),
        ([0.0] * 6, "sums to zero"),
    ],
    ids=["negative", "nan", "inf", "too-short", "too-long", "2d", "all-zero"],
)
def test_bad_sample_weight(net, data, sw, match):
    X, Y = data
    with pytest.raises(ValueError, match=match):
        net.loss_and_grad(X, Y, sample_weight=np.asarray(sw, dtype=float))


def test_string_sample_weight(net, data):
    X, Y = data
    with pytest.raises(TypeError, match="sample_weight must hold numbers"):
        net.loss_and_grad(X, Y, sample_weight=["a"] * 6)


@pytest.mark.parametrize("alpha", [-1.0, np.nan, np.inf])
def test_bad_alpha(net, data, alpha):
    X, Y = data
    with pytest.raises(ValueError, match="alpha"):
        net.loss_and_grad(X, Y, alpha=alpha)


# ---- construction -------------------------------------------------------------------------
@pytest.mark.parametrize("sizes", [[], [4]])
def test_too_few_layer_sizes(sizes):
    with pytest.raises(ValueError, match="layer_sizes"):
        Network(sizes)


@pytest.mark.parametrize("sizes", [[4, 0, 2], [0, 3], [4, 3, 0], [4, -2, 3], [4, 2.5, 3]])
def test_non_positive_or_fractional_layer_sizes(sizes):
    with pytest.raises(ValueError, match="layer_sizes"):
        Network(sizes)


@pytest.mark.parametrize("sizes", [None, 5, ["a", "b"], "43"])
def test_layer_sizes_not_a_sequence_of_ints(sizes):
    with pytest.raises(TypeError, match="layer_sizes"):
        Network(sizes)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"activation": "sigmoidish"}, r"Unknown hidden activation 'sigmoidish'"),
        ({"activation": "softmax"}, r"Unknown hidden activation 'softmax'"),
        ({"activation": ["relu", "nope"]}, r"Unknown hidden activation 'nope'"),
        ({"output_activation": "tanh"}, r"Unknown output activation 'tanh'"),
        ({"loss": "hinge"}, r"Unknown loss 'hinge'"),
        ({"init": "zeros"}, r"Unknown init 'zeros'"),
        ({"dtype": "float16"}, r"Unknown dtype 'float16'"),
        ({"dtype": "int64"}, r"Unknown dtype 'int64'"),
        ({"dtype": "banana"}, r"dtype 'banana'"),
    ],
)
def test_unknown_names(kwargs, match):
    kwargs.setdefault("activation", ["relu", "relu"])
    with pytest.raises(ValueError, match=match):
        Network([4, 5, 5, 3], **kwargs)


@pytest.mark.parametrize(
    "output,loss",
    [
        ("identity", "poisson"),
        ("identity", "log_loss"),
        ("identity", "binary_log_loss"),
        ("exp", "log_loss"),
        ("tanh", "squared_error"),
    ],
)
def test_loss_not_defined_on_output_range(output, loss):
    with pytest.raises(ValueError, match=rf"{loss}|{output}"):
        Network([4, 5, 3], output_activation=output, loss=loss)


def test_activation_none():
    with pytest.raises((ValueError, TypeError), match="activation"):
        Network([4, 5, 3], activation=None)


def test_poisson_with_identity_output_names_the_range():
    with pytest.raises(ValueError, match=r"'poisson' is not defined on the range of a 'identity'"):
        Network([4, 5, 3], output_activation="identity", loss="poisson")


@pytest.mark.parametrize(
    "kwargs", [{"leaky_slope": 0.0}, {"leaky_slope": -0.1}, {"elu_alpha": 0.0}, {"elu_alpha": -1.0}]
)
def test_non_positive_activation_params(kwargs):
    with pytest.raises(ValueError, match="leaky_slope and elu_alpha must be positive"):
        Network([4, 5, 3], **kwargs)


# ---- target ranges ------------------------------------------------------------------------
def test_negative_targets_with_poisson(data):
    X, _ = data
    net = Network([N_IN, 5, N_OUT], output_activation="exp", loss="poisson")
    Y = np.ones((6, N_OUT))
    Y[1, 2] = -0.5
    with pytest.raises(ValueError, match="poisson loss needs non-negative targets"):
        net.loss_and_grad(X, Y)


@pytest.mark.parametrize(
    "output,loss",
    [
        ("softmax", "log_loss"),
        ("logistic", "log_loss"),
        ("logistic", "binary_log_loss"),
        ("softmax", "binary_log_loss"),
    ],
)
@pytest.mark.parametrize("bad", [-0.2, 1.5])
def test_targets_outside_unit_interval_with_log_losses(data, output, loss, bad):
    X, _ = data
    net = Network([N_IN, 5, N_OUT], output_activation=output, loss=loss)
    Y = np.zeros((6, N_OUT))
    Y[:, 0] = 1.0
    Y[2, 1] = bad
    with pytest.raises(ValueError, match=r"needs targets Y in \[0, 1\]"):
        net.loss_and_grad(X, Y)


def test_log_loss_targets_that_are_not_distributions(data):
    # softmax + log_loss takes the canonical delta (A - Y), which is the gradient of the loss
    # only when every row of Y sums to 1. Rows that do not must be rejected, or else the
    # gradient must still be the loss's gradient; silently wrong gradients are not allowed.
    import fastmlp

    X, _ = data
    net = Network(
        [N_IN, 5, N_OUT],
        activation="tanh",
        output_activation="softmax",
        loss="log_loss",
        random_state=0,
    )
    for Y in (np.full((6, N_OUT), 0.5), np.zeros((6, N_OUT))):
        try:
            result = fastmlp.check_gradients(net, X, Y)
        except ValueError as exc:
            assert "sum to 1" in str(exc) or "one-hot" in str(exc), exc
        else:
            assert result.ok, result


# ---- forward options ----------------------------------------------------------------------
@pytest.mark.parametrize("chunk_size", [0, -1, 2.5])
def test_bad_chunk_size(net, data, chunk_size):
    X, _ = data
    with pytest.raises(ValueError, match="chunk_size"):
        net.forward(X, chunk_size=chunk_size)


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"layer_sizes": [4, True]}, TypeError, "not booleans"),
        ({"layer_sizes": [4, 3], "dtype": None}, ValueError, "dtype"),
        (
            {"layer_sizes": [4, 3], "activation": ["relu", "tanh"]},
            ValueError,
            "2 names for 0 hidden layers",
        ),
    ],
)
def test_more_constructor_mistakes(kwargs, error, match):
    with pytest.raises(error, match=match):
        Network(**kwargs)


def test_forward_none(net):
    with pytest.raises(TypeError, match="X must be a 2-D array of numbers, got None"):
        net.forward(None)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_in_an_already_clean_array(net, data, bad):
    # C-contiguous arrays of the network's dtype skip check_array; they are still checked.
    X, Y = data
    X = np.ascontiguousarray(X, dtype=net.dtype)
    X[1, 2] = bad
    with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
        net.loss_and_grad(X, Y)


@pytest.mark.parametrize("seed", [0, 1, 42, 2**32 - 1, np.int64(7), np.uint32(3), True])
def test_int_seeds_give_the_generators_scikit_learn_gives(seed):
    # fastmlp's check_random_state skips RandomState's entropy seeding (overwritten at once
    # by the int seed): the state and the draws must be scikit-learn's.
    from sklearn.utils import check_random_state as sklearn_check_random_state

    from fastmlp._validation import check_random_state

    ours, theirs = check_random_state(seed), sklearn_check_random_state(seed)
    a, b = ours.get_state(), theirs.get_state()
    assert a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2:] == b[2:]
    assert np.array_equal(ours.permutation(50), theirs.permutation(50))
    assert ours.standard_normal() == theirs.standard_normal()  # and the Gaussian cache
    assert check_random_state(seed) is not check_random_state(seed)  # a new one each time


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, "0", np.int64(-5)])
def test_bad_seeds_are_refused_as_scikit_learn_refuses_them(seed):
    from sklearn.utils import check_random_state as sklearn_check_random_state

    from fastmlp._validation import check_random_state

    with pytest.raises((ValueError, TypeError)) as theirs:
        sklearn_check_random_state(seed)
    with pytest.raises(theirs.type) as ours:
        check_random_state(seed)
    assert str(ours.value) == str(theirs.value)


def test_random_state_instances_and_none_pass_through():
    from fastmlp._validation import check_random_state

    rs = np.random.RandomState(0)
    assert check_random_state(rs) is rs
    assert isinstance(check_random_state(None), np.random.RandomState)
