"""Input checks shared by Network and the estimators: fail in Python, before any kernel."""

import numbers

import numpy as np
from numpy.random.bit_generator import ISeedSequence
from sklearn.utils import check_random_state as _sklearn_check_random_state
from sklearn.utils.validation import check_array


def check_option(value, allowed, what):
    """Return ``value`` if it is one of ``allowed``, else raise a ValueError listing them."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"Unknown {what} {value!r}; expected one of {sorted(allowed)}.")
    return value


def check_matrix(X, name, dtype, n_columns=None, what_columns="features"):
    """A finite, non-empty, C-contiguous 2-D array of ``dtype`` with ``n_columns`` columns."""
    if X is None:
        raise TypeError(f"{name} must be a 2-D array of numbers, got None.")
    if not hasattr(X, "dtype"):
        X = np.asarray(X)
    if X.dtype.kind in "USVmM":
        raise TypeError(f"{name} must hold numbers, got an array of dtype {X.dtype}.")
    # check_array's messages are the ones scikit-learn users know, but it costs ~50 us a
    # call: an array that needs no conversion only gets the finiteness test (~1 us).
    if not (is_ready(X, dtype) and _all_finite(X)):
        X = check_array(
            X, dtype=dtype, order="C", ensure_2d=True, ensure_all_finite=True, input_name=name
        )
    if n_columns is not None and X.shape[1] != n_columns:
        raise ValueError(
            f"{name} has {X.shape[1]} columns but the network expects {n_columns} {what_columns}."
        )
    return X


def _all_finite(X, rows_per_chunk=65536):
    """``np.isfinite(X).all()`` without a boolean copy of X (a quarter of a float32 X):
    a sum is finite when every value is; only when it is not are the rows checked in chunks."""
    if np.isfinite(np.sum(X, dtype=np.float64)):
        return True
    return all(
        np.isfinite(X[start : start + rows_per_chunk]).all()
        for start in range(0, X.shape[0], rows_per_chunk)
    )


def is_ready(X, dtype):
    """Already a non-empty, C-contiguous, 2-D ndarray of ``dtype``."""
    return (
        type(X) is np.ndarray
        and X.dtype == dtype
        and X.ndim == 2
        and X.size > 0
        and X.flags.c_contiguous
    )


def check_sample_weight(sample_weight, n_samples, dtype):
    """Finite, non-negative weights of length n_samples with a positive total; None stays None."""
    if sample_weight is None:
        return None
    sw = np.asarray(sample_weight)
    if sw.dtype.kind not in "biuf":
        raise TypeError(f"sample_weight must hold numbers, got dtype {sw.dtype}.")
    sw = np.ascontiguousarray(sw, dtype=dtype)
    if sw.ndim != 1 or sw.shape[0] != n_samples:
        raise ValueError(f"sample_weight must have shape ({n_samples},), got {sw.shape}.")
    if not np.all(np.isfinite(sw)):
        raise ValueError("sample_weight contains NaN or infinity.")
    if np.any(sw < 0):
        raise ValueError("sample_weight must be non-negative.")
    if sw.sum() <= 0:
        raise ValueError("sample_weight sums to zero: no sample carries any weight.")
    return sw


def check_positive_int(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def check_number(value, name, low=None, high=None, low_open=False, high_open=False):
    """A finite real in the interval given by low/high (open or closed ends)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}.")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        raise ValueError(f"{name} must be in {left}{low}, {high}{right}, got {value!r}.")
    return float(value)


class NonFiniteResultError(ValueError):
    """Finite inputs gave a non-finite result: the computation overflowed."""


def check_finite_result(what, *arrays):
    """Raise :class:`NonFiniteResultError` unless every value in ``arrays`` is finite.

    Inputs are checked to be finite, but values near the dtype's limit (1e300 in float64,
    1e38 in float32) still overflow inside the network: say so instead of returning NaN.
    """
    if not all(np.isfinite(a).all() for a in arrays):
        raise NonFiniteResultError(
            f"{what} overflowed to infinity or NaN although the inputs are finite: their "
            "values are too large for the network's dtype. Scale the data (for example with "
            "sklearn.preprocessing.StandardScaler) or check the weights."
        )


class _NoEntropy(ISeedSequence):
    """A seed sequence that draws nothing: the state it gives is overwritten at once."""

    def generate_state(self, n_words, dtype=np.uint32):
        return np.zeros(n_words, dtype)


_NO_ENTROPY = _NoEntropy()


def check_random_state(seed):
    """``sklearn.utils.check_random_state``: the same generators, ~4x sooner for an int.

    ``RandomState(seed)`` first seeds its MT19937 from the operating system's entropy
    through a SeedSequence (~130 us), then seeds it again from ``seed``. Here the generator
    starts from a fixed state instead and gets the same legacy seeding (``seed()``), so its
    state and draws are those of ``RandomState(seed)``; a fit of a small network seeds two
    (its weights and its shuffles), and the seeding held the GIL for ~15% of a fit's
    Python.
    """
    if isinstance(seed, numbers.Integral):
        generator = np.random.RandomState(np.random.MT19937(_NO_ENTROPY))
        generator.seed(seed)
        return generator
    return _sklearn_check_random_state(seed)
