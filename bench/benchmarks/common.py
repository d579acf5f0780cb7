"""Shared helpers of the asv suite: networks, synthetic data and FLOP counts (fixed seeds).

Nothing here is a benchmark (asv collects only ``time_``/``timeraw_``/``peakmem_``/
``track_``/``mem_`` names); every benchmark module imports from here.
"""

import numpy as np

import fastmlp

SEED = 0
DTYPES = ["float32", "float64"]


def parse_case(case):
    """``"784-512-10@128"`` -> ``((784, 512, 10), 128)``; no ``@`` -> batch ``None``."""
    sizes, _, batch = case.partition("@")
    return tuple(int(s) for s in sizes.split("-")), (int(batch) if batch else None)


def n_params(sizes):
    """Weights and intercepts of a dense network with these layer sizes."""
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def flops_per_sample(sizes):
    """Training FLOPs per sample: 2 each for forward, input-delta and weight-gradient products."""
    return 6 * n_params(sizes)


def task_of(sizes):
    """One output: regression (identity + squared error); more: softmax classification."""
    return "regression" if sizes[-1] == 1 else "classification"


def make_network(sizes, dtype):
    """A relu Network for ``task_of(sizes)``, drawn with the fixed seed."""
    if task_of(sizes) == "regression":
        out, loss = "identity", "squared_error"
    else:
        out, loss = "softmax", "log_loss"
    return fastmlp.Network(
        list(sizes),
        activation="relu",
        output_activation=out,
        loss=loss,
        dtype=dtype,
        random_state=SEED,
    )


def make_data(sizes, n_samples, dtype, seed=SEED):
    """Gaussian inputs and targets for ``task_of(sizes)``.

    Returns ``X`` (n, sizes[0]), ``Y`` 2-D (one-hot rows for classification, one column
    for regression: what ``Network`` takes) and ``y`` (class labels or a 1-D target: what
    the estimators take), all C-contiguous in ``dtype`` except the integer labels.
    """
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n_samples, sizes[0])).astype(dtype)
    if task_of(sizes) == "regression":
        y = X[:, : min(3, sizes[0])].sum(axis=1) + 0.1 * rng.standard_normal(n_samples)
        y = y.astype(dtype)
        return X, np.ascontiguousarray(y[:, None]), y
    y = rng.randint(0, sizes[-1], n_samples)
    y[: sizes[-1]] = np.arange(sizes[-1])  # every class present
    Y = np.zeros((n_samples, sizes[-1]), dtype=dtype)
    Y[np.arange(n_samples), y] = 1.0
    return X, Y, y
