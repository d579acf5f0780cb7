"""Peak memory of training on a large float32 X: X is never copied, beyond a formula.

``peakmem_*`` is asv's peak resident memory of the whole process (X, made in ``setup``,
included). ``track_*`` measure the fit's own peak above everything before it (the process's
``ru_maxrss`` before and after) in MB, and that peak over :func:`expected_extra_bytes`, the
formula of the user guide's "Memory" section. The default size keeps ``asv run`` quick; set
``FASTMLP_BENCH_MEMORY_MB=1024`` for the 1 GB case, e.g.::

    FASTMLP_BENCH_MEMORY_MB=1024 asv run --python=same -b Memory --quick
"""

import os
import resource
import sys
import warnings

import numpy as np

import fastmlp

from .common import SEED

SIZES_MB = [64] + [int(v) for v in os.environ.get("FASTMLP_BENCH_MEMORY_MB", "").split(",") if v]
N_FEATURES = 64
HIDDEN = (64, 32)
BATCH = 200
# scikit-learn's order of the epochs' index arrays: the order, a permutation, the new order.
INDEX_ARRAYS = 3


def _max_rss_bytes():
    """The process's peak resident set so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def expected_extra_bytes(
    n_samples, n_features, layer_sizes, itemsize, batch, solver_states, x_itemsize=None
):
    """Memory a fit needs beyond X itself (the user guide's formula).

    One converted copy of X when its dtype differs from the network's; the epochs' index
    arrays (int64); the workspaces (a gathered batch of X and Y, activations and deltas of
    every layer); the parameters, their gradient, the previous epoch's copy and the
    optimizer's states.
    """
    x_itemsize = itemsize if x_itemsize is None else x_itemsize
    converted = n_samples * n_features * itemsize if x_itemsize != itemsize else 0
    index = INDEX_ARRAYS * 8 * n_samples
    widths = sum(layer_sizes[1:])
    workspace = batch * (n_features + layer_sizes[-1] + 2 * widths) * itemsize
    n_params = sum(a * b + b for a, b in zip(layer_sizes[:-1], layer_sizes[1:]))
    parameters = n_params * itemsize * (3 + solver_states)
    return converted + index + workspace + parameters


class Memory:
    """Two adam epochs on ``size_mb`` megabytes of float32 data (twice that as float64).

    ``input``: ``Network.fit`` of a float32 network on float32 X or on float64 X (converted
    once), or ``MLPRegressor.fit`` on float32 X.
    """

    params = (SIZES_MB, ["float32", "float64->float32", "MLPRegressor float32"])
    param_names = ["size_mb", "input"]
    timeout = 1200

    def setup(self, size_mb, source):
        n = size_mb * 2**20 // (4 * N_FEATURES)
        rng = np.random.RandomState(SEED)
        dtype = np.float64 if source.startswith("float64") else np.float32
        # Made in blocks: a whole float64 draw would itself double the process's peak.
        self.X = np.empty((n, N_FEATURES), dtype=dtype)
        for start in range(0, n, 1 << 16):
            block = self.X[start : start + (1 << 16)]
            block[:] = rng.standard_normal(block.shape)
        self.y = self.X[:, :3].sum(axis=1, dtype=np.float64).astype(np.float32)
        self.sizes = [N_FEATURES, *HIDDEN, 1]
        self.estimator = source.startswith("MLPRegressor")
        # compile (or load from Numba's cache) on a small slice, outside the measured fit
        self._fit(self.X[:500].astype(np.float32), self.y[:500])

    def _fit(self, X, y):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if self.estimator:
                return fastmlp.MLPRegressor(
                    hidden_layer_sizes=HIDDEN, batch_size=BATCH, max_iter=2, random_state=SEED
                ).fit(X, y)
            # float64 input for a float32 model: Network.fit converts X once, before the epochs
            net = fastmlp.Network(self.sizes, activation="relu", dtype="float32", random_state=SEED)
            net.fit(X, y[:, None], batch_size=BATCH, max_iter=2, random_state=SEED)
            return net

    def peakmem_fit(self, size_mb, source):
        self._fit(self.X, self.y)

    def _extra(self):
        before = _max_rss_bytes()
        self._fit(self.X, self.y)
        return max(_max_rss_bytes() - before, 0)

    def track_extra_mb(self, size_mb, source):
        return self._extra() / 2**20

    track_extra_mb.unit = "MB"

    def track_extra_over_formula(self, size_mb, source):
        expected = expected_extra_bytes(
            self.X.shape[0],
            N_FEATURES,
            self.sizes,
            4,
            BATCH,
            solver_states=2,
            x_itemsize=self.X.itemsize,
        )
        return self._extra() / expected

    track_extra_over_formula.unit = "ratio"
