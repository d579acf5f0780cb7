"""fastmlp beside scikit-learn and PyTorch (CPU): training throughput and prediction speed.

Run from the repository root::

    python bench/compare.py                 # the full table (~15 minutes on 2 cores)
    python -m bench.compare --quick         # the performance targets only, 3 repeats
    python bench/compare.py --sweep --out results.json && python bench/plot.py results.json
    python -m bench.compare --cases 20-64-64-2@1 predict-1row --repeats 1   # a few rows

**Each library runs in its own process.** PyTorch's OpenMP threads keep spinning for about
a second after its last call and halve the BLAS speed of whatever runs next in the same
process, so this script (the parent) starts one child process per (row, library)
(``python -m bench.compare --worker KIND --library LIB --spec JSON``), which prints its
measurements as one JSON line on stdout; the table is assembled from those. The children
of one row run one after another (repeats cannot be interleaved across processes, so
each library's number is the median of its own repeats). The GEMM rate is measured in a
child of its own too, before and after all the rows, and by fastmlp's children between
their repeats: a row's fraction of the GEMM rate divides by the rate of the same minutes.

Training rows: every library trains the same architecture (relu hidden layers), on the
same synthetic data (fixed seed), with the same optimizer (adam, same learning rate, betas
and epsilon, no weight penalty), batch size and per-epoch reshuffling:

- fastmlp: the ``MLPClassifier`` / ``MLPRegressor`` estimators with their defaults
  (diagnostics off; the column the targets use), the same with ``diagnostics=True`` (the
  difference is the opt-in diagnostics' cost), and ``Network.fit`` (diagnostics off);
- scikit-learn: ``MLPClassifier`` / ``MLPRegressor``;
- PyTorch: ``torch.nn.Sequential`` of ``Linear`` + ``ReLU`` and ``torch.optim.Adam`` (fused
  where the installed version allows it), in a DataLoader-free loop over a per-epoch
  ``torch.randperm``.

Outputs: one linear unit with squared error for regression, softmax with log loss for
more than two classes, and for two outputs two logistic units with binary log loss (a
scikit-learn classifier given two classes would build a single output unit, so it gets the
targets as a two-column indicator matrix instead).

Prediction rows: ``predict_proba`` of one row (latency, median over many calls) and of 100k
rows (rows/s) by scikit-learn's and fastmlp's ``MLPClassifier`` and by PyTorch
(``torch.no_grad``, softmax, NumPy in and out), plus fastmlp's ``Network.forward``. Each model
is first fitted for a few iterations on random data; only prediction is timed.

Each library is measured at 1 and at 2 threads, keeping the faster: ``torch.set_num_threads``
for PyTorch, the BLAS pools (``threadpoolctl.threadpool_limits``) for the others. On a
shared 2-core machine a 2-thread BLAS can lose 10x when another process holds a core, so
the best thread count is the fair comparison; the table shows which one won.

Training measurement: one warm-up epoch (Numba compilation or cache loading, allocator
warm-up), then a calibration epoch sets how many whole epochs one timed repeat runs (at
least ``--min-seconds``); the thread settings' repeats alternate, and the median over
repeats is reported in samples per second.

"% of sgemm" counts 6 x n_weights FLOPs per training sample (2 each for the forward
product, the input-delta product and the weight-gradient product) and 2 x n_weights per
predicted row, over this machine's GEMM rate: the median time of a 1024 x 1024 x 1024 NumPy
product in the row's dtype at default threads, timed in the fastmlp child itself (three
products before each round of repeats and after the last; the table gives that median
beside the fraction), so that a neighbour slowing the shared host for minutes moves both
sides of the ratio rather than one.
"""

import argparse
import contextlib
import importlib.util
import json
import math
import operator
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import time
import warnings
from dataclasses import asdict, dataclass

import numba
import numpy as np
import sklearn
from sklearn import neural_network
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import ThreadpoolController, threadpool_info

import fastmlp

ROOT = pathlib.Path(__file__).resolve().parents[1]  # children run ``-m bench.compare`` here
HAVE_TORCH = importlib.util.find_spec("torch") is not None
SEED = 0
# The shared optimizer settings (scikit-learn's adam defaults, no L2 penalty).
ADAM = {"lr": 1e-3, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-8}
THREADS = (1, 2)  # thread counts each library is measured at
SWEEP_SIZES = (64, 128, 10)
SWEEP_BATCHES = (1, 4, 16, 64, 256)
CHILD_TIMEOUT = 900  # seconds; a child that hangs fails the run instead of stalling it


def _torch():
    """PyTorch, imported only by the processes that run it (never by the parent)."""
    import torch

    return torch


# ---- targets -------------------------------------------------------------------------------
# A target is ``(metric, op, value)`` read on a row's metrics:
# - "ratio": the fastmlp estimator (defaults) over the faster peer (rate over rate; for
#   latency rows the same as the peer's time over fastmlp's);
# - "gemm_fraction": the fastmlp estimator's FLOP rate over the GEMM rate;
# - "diag_cost": training time with ``diagnostics=True`` over the defaults' (off), minus 1:
#   reported, not a target (the "defaults within 5 % of diagnostics off" holds by
#   construction since diagnostics became opt-in);
# - "network_us": ``Network.forward`` of one row in microseconds.
METRIC_LABELS = {
    "ratio": "{op} {value:g}×",
    "gemm_fraction": "{op} {value:.0%} of sgemm",
    "network_us": "forward {op} {value:g} µs",
}
OPS = {">=": (operator.ge, "≥"), "<=": (operator.le, "≤"), "<": (operator.lt, "<")}


def target_met(target, metrics):
    """True/False for ``target`` against ``metrics``; None when the metric was not measured."""
    metric, op, value = target
    if op not in OPS or metric not in METRIC_LABELS:
        raise ValueError(f"unknown target {target!r}")
    measured = metrics.get(metric)
    return None if measured is None else bool(OPS[op][0](measured, value))


def describe_target(target):
    metric, op, value = target
    return METRIC_LABELS[metric].format(op=OPS[op][1], value=value)


@dataclass(frozen=True)
class Case:
    """One training row: architecture, batch size, dtype, samples per epoch and targets."""

    sizes: tuple
    batch: int
    dtype: str = "float32"
    targets: tuple = ()
    n_samples: int = 4096

    @property
    def name(self):
        return "-".join(map(str, self.sizes))

    @property
    def key(self):
        return f"{self.name}@{self.batch}:{self.dtype}"

    @property
    def task(self):
        return task_of(self.sizes)


@dataclass(frozen=True)
class PredictCase:
    """One prediction row: ``predict_proba`` of ``rows`` rows (1: latency) by a classifier
    of these layer sizes, fitted first on ``fit_samples`` random rows."""

    sizes: tuple
    rows: int
    targets: tuple = ()
    fit_samples: int = 1000

    @property
    def name(self):
        return "-".join(map(str, self.sizes))

    @property
    def key(self):
        return f"predict-{'1row' if self.rows == 1 else 'bulk'}:{self.name}"

    @property
    def kind(self):
        return "latency" if self.rows == 1 else "bulk"


def _ratio(x):
    return (("ratio", ">=", x),)


def _gemm(f):
    return (("gemm_fraction", ">=", f),)


# (sizes, batch, float32 targets, samples per epoch). The epoch lengths keep one epoch of
# the slowest peer under ~1 s: every timed repeat is at least one whole epoch.
TARGET_SPECS = [
    ((20, 64, 64, 2), 1, _ratio(45.0), 512),
    ((20, 64, 64, 2), 8, _ratio(30.0), 2048),
    ((20, 64, 64, 2), 16, _ratio(30.0), 4096),
    ((64, 100, 10), 200, _ratio(4.0), 4000),
    ((784, 256, 128, 10), 128, _gemm(0.85), 2048),
    ((256, 1024, 1024, 10), 256, _gemm(0.85), 2048),
]
# The earlier rows (the training engine's original cases), in the full run only; their
# targets (fastmlp over the faster peer, GEMM fraction) are read on the estimator too.
OTHER_SPECS = [
    ((10, 32, 1), 1, _ratio(30.0), 1024),
    ((64, 128, 10), 64, _ratio(4.0), 4096),
    ((784, 256, 10), 128, (), 2048),
    ((784, 512, 10), 128, _ratio(2.5), 2048),
    ((784, 1024, 1024, 10), 256, _gemm(0.75), 1024),
]
PREDICT_CASES = [
    PredictCase((64, 64, 64, 10), 1, (("ratio", ">=", 5.0), ("network_us", "<", 3.0))),
    PredictCase((784, 256, 128, 10), 100_000, (("gemm_fraction", ">=", 0.85),)),
]


def table_cases(dtypes=("float32", "float64"), others=True):
    """The training rows; targets apply to float32 only, float64 rows are the target rows."""
    specs = TARGET_SPECS + (OTHER_SPECS if others else [])
    return [
        Case(sizes, batch, dtype, targets if dtype == "float32" else (), n)
        for dtype in dtypes
        for sizes, batch, targets, n in (specs if dtype == "float32" else TARGET_SPECS)
    ]


def sweep_cases(dtype="float32"):
    """Batch sizes 1..256 on one architecture, for the plot."""
    return [
        Case(SWEEP_SIZES, batch, dtype, (), {1: 1024, 4: 2048}.get(batch, 4096))
        for batch in SWEEP_BATCHES
    ]


def select(cases, patterns):
    """The cases whose key (``20-64-64-2@1:float32``, ``predict-1row:64-64-64-10``)
    contains one of ``patterns``; all of them when ``patterns`` is empty."""
    if not patterns:
        return list(cases)
    return [c for c in cases if any(p in c.key for p in patterns)]


# ---- counting ------------------------------------------------------------------------------
def n_params(sizes):
    """Weights and intercepts of a dense network with these layer sizes."""
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def n_weights(sizes):
    """Weights of a dense network (what the matrix products multiply; no intercepts)."""
    return sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def flops_per_sample(sizes):
    """Training FLOPs per sample: 6 x n_weights (forward, input-delta, weight-gradient)."""
    return 6 * n_weights(sizes)


def gflops(sizes, samples_per_s, per_sample=6):
    """Achieved GFLOP/s: ``per_sample`` x n_weights FLOPs (6 training, 2 prediction)."""
    return per_sample * n_weights(sizes) * samples_per_s / 1e9


# ---- data ----------------------------------------------------------------------------------
def task_of(sizes):
    n_out = sizes[-1]
    return "regression" if n_out == 1 else ("binary" if n_out == 2 else "multiclass")


def make_data(case, seed=SEED):
    """Synthetic ``(X, Y, y)`` for the case, in its dtype.

    ``Y`` is 2-D (what ``Network`` takes: a target column, or indicator rows); ``y`` is
    what the estimators take: a 1-D target, class labels, or (two outputs) ``Y`` itself.
    """
    rng = np.random.RandomState(seed)
    n, n_in, n_out = case.n_samples, case.sizes[0], case.sizes[-1]
    X = rng.standard_normal((n, n_in)).astype(case.dtype)
    if case.task == "regression":
        y = X[:, : min(3, n_in)].sum(axis=1) + 0.1 * rng.standard_normal(n)
        y = y.astype(case.dtype)
        return X, np.ascontiguousarray(y[:, None]), y
    labels = rng.randint(0, n_out, n)
    labels[:n_out] = np.arange(n_out)  # every class present
    Y = np.zeros((n, n_out), dtype=case.dtype)
    Y[np.arange(n), labels] = 1.0
    return X, Y, (Y if case.task == "binary" else labels)


# ---- runners: each trains whole epochs of one library on one case -------------------------
NETWORK, ESTIMATOR, SKLEARN, TORCH = "fastmlp Network", "fastmlp MLP*", "scikit-learn", "torch"
ESTIMATOR_DIAG = "fastmlp MLP* diagnostics=True"
LIBRARIES = (ESTIMATOR, ESTIMATOR_DIAG, NETWORK, SKLEARN, TORCH)
PEERS = (SKLEARN, TORCH)
# fastmlp's children, whose fractions of the GEMM rate the targets read: they time the GEMM
# rate in their own process too, between their repeats (paired_gemm).
PAIRED = (ESTIMATOR, NETWORK)


class Runner:
    """Trains whole epochs of one library on one case.

    ``run(epochs)`` trains that many epochs (continuing from the current weights);
    ``layer_sizes()``, ``param_dtype()`` and ``params_snapshot()`` describe what is being
    trained. ``threads`` (1, 2, ...; None: as the process has it) is applied around every
    ``run``.
    """

    library = ""

    def __init__(self, threads=None):
        self.threads = threads

    @property
    def label(self):
        return thread_label(self.library, self.threads)

    def run(self, epochs):
        with limit_threads(self.library, self.threads):
            self._train(epochs)

    def _train(self, epochs):
        raise NotImplementedError

    def layer_sizes(self):
        raise NotImplementedError

    def param_dtype(self):
        raise NotImplementedError

    def params_snapshot(self):
        """All parameters, concatenated (to check that training changes them)."""
        raise NotImplementedError


_CONTROLLER = []


def _blas_controller():
    """One ``ThreadpoolController`` (scanning the loaded libraries once, not per run)."""
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]


@contextlib.contextmanager
def limit_threads(library, threads):
    """``threads`` for the library while inside: ``torch.set_num_threads`` for PyTorch, the
    BLAS pools for the others; None leaves them as they are."""
    if threads is None:
        yield
    elif library == TORCH:
        torch = _torch()
        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            yield
        finally:
            torch.set_num_threads(previous)
    else:
        with _blas_controller().limit(limits=threads, user_api="blas"):
            yield


class FastmlpNetwork(Runner):
    """``fastmlp.Network.fit`` with ``max_iter=epochs`` (stopping rule disabled).

    Diagnostics are off here (as in the estimators' defaults), so this column does the
    peers' work and no more.
    """

    library = NETWORK

    def __init__(self, case, data, threads=None):
        super().__init__(threads)
        self.case = case
        self.X, self.Y, _ = data
        out, loss = {
            "regression": ("identity", "squared_error"),
            "binary": ("logistic", "log_loss"),
            "multiclass": ("softmax", "log_loss"),
        }[case.task]
        self.net = fastmlp.Network(
            list(case.sizes),
            activation="relu",
            output_activation=out,
            loss=loss,
            dtype=case.dtype,
            random_state=SEED,
        )
        self.rng = np.random.RandomState(SEED)
        self.epochs_run = 0

    def _train(self, epochs):
        history = self.net.fit(
            self.X,
            self.Y,
            solver="adam",
            learning_rate_init=ADAM["lr"],
            beta_1=ADAM["beta_1"],
            beta_2=ADAM["beta_2"],
            epsilon=ADAM["epsilon"],
            alpha=0.0,
            batch_size=self.case.batch,
            max_iter=epochs,
            shuffle=True,
            random_state=self.rng,
            tol=0.0,
            n_iter_no_change=10**9,
            diagnostics=False,
        )
        if len(history) != epochs:
            raise RuntimeError(f"Network.fit ran {len(history)} epochs, not {epochs}")
        self.epochs_run += epochs

    def layer_sizes(self):
        return list(self.net.layer_sizes)

    def param_dtype(self):
        return self.net.params.dtype

    def params_snapshot(self):
        return self.net.params.copy()


class _EstimatorRunner(Runner):
    """A scikit-learn-style estimator refitted with ``warm_start`` (no re-initialisation)."""

    classifier = regressor = None
    extra = {}  # further constructor arguments

    def __init__(self, case, data, threads=None):
        super().__init__(threads)
        self.case = case
        self.X, _, self.y = data
        cls = self.regressor if case.task == "regression" else self.classifier
        self.est = cls(
            **self.extra,
            hidden_layer_sizes=case.sizes[1:-1],
            activation="relu",
            solver="adam",
            alpha=0.0,
            batch_size=case.batch,
            learning_rate_init=ADAM["lr"],
            beta_1=ADAM["beta_1"],
            beta_2=ADAM["beta_2"],
            epsilon=ADAM["epsilon"],
            shuffle=True,
            random_state=SEED,
            tol=0.0,
            n_iter_no_change=10**9,
            warm_start=True,
            max_iter=1,
        )

    def _train(self, epochs):
        self.est.set_params(max_iter=epochs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.est.fit(self.X, self.y)

    def layer_sizes(self):
        coefs = self.est.coefs_
        return [coefs[0].shape[0]] + [W.shape[1] for W in coefs]

    def param_dtype(self):
        return self.est.coefs_[0].dtype

    def params_snapshot(self):
        return np.concatenate([a.ravel() for a in self.est.coefs_ + self.est.intercepts_])


class FastmlpEstimator(_EstimatorRunner):
    """fastmlp's drop-in ``MLPClassifier`` / ``MLPRegressor`` with its defaults
    (diagnostics off)."""

    library = ESTIMATOR
    classifier, regressor = fastmlp.MLPClassifier, fastmlp.MLPRegressor


class FastmlpEstimatorDiagnostics(FastmlpEstimator):
    """The same estimator with ``diagnostics=True`` (its time apart is their cost)."""

    library = ESTIMATOR_DIAG
    extra = {"diagnostics": True}


class Sklearn(_EstimatorRunner):
    """scikit-learn's ``MLPClassifier`` / ``MLPRegressor``."""

    library = SKLEARN
    classifier, regressor = neural_network.MLPClassifier, neural_network.MLPRegressor


class Torch(Runner):
    """The training loop a competent PyTorch user writes for in-memory data."""

    library = TORCH

    def __init__(self, case, data, threads=None):
        torch = _torch()
        super().__init__(threads)
        self.case = case
        X, Y, y = data
        dtype = getattr(torch, case.dtype)
        torch.manual_seed(SEED)
        layers = []
        for i, (fan_in, fan_out) in enumerate(zip(case.sizes[:-1], case.sizes[1:])):
            layers.append(torch.nn.Linear(fan_in, fan_out))
            if i < len(case.sizes) - 2:
                layers.append(torch.nn.ReLU())
        self.model = torch.nn.Sequential(*layers).to(dtype)
        self.X = torch.from_numpy(X)
        if case.task == "multiclass":
            self.T = torch.from_numpy(np.asarray(y, dtype=np.int64))
            self.loss_fn = torch.nn.CrossEntropyLoss()
        elif case.task == "binary":
            self.T = torch.from_numpy(Y)
            self.loss_fn = torch.nn.BCEWithLogitsLoss()
        else:
            self.T = torch.from_numpy(Y)
            self.loss_fn = torch.nn.MSELoss()
        self.optimizer, self.fused = make_torch_adam(self.model.parameters())
        self.generator = torch.Generator().manual_seed(SEED)
        self.steps = 0

    def run(self, epochs):
        with limit_threads(TORCH, self.threads):
            self._train(epochs)

    def _train(self, epochs):
        torch = _torch()
        model, opt, loss_fn, X, T = self.model, self.optimizer, self.loss_fn, self.X, self.T
        n, batch = X.shape[0], self.case.batch
        for _ in range(epochs):
            perm = torch.randperm(n, generator=self.generator)
            for start in range(0, n, batch):
                idx = perm[start : start + batch]
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(X[idx]), T[idx])
                loss.backward()
                opt.step()
                self.steps += 1

    def layer_sizes(self):
        linears = [m for m in self.model if isinstance(m, _torch().nn.Linear)]
        return [linears[0].in_features] + [m.out_features for m in linears]

    def param_dtype(self):
        return np.dtype(str(next(self.model.parameters()).dtype).replace("torch.", ""))

    def params_snapshot(self):
        torch = _torch()
        with torch.no_grad():
            return torch.cat([p.detach().ravel() for p in self.model.parameters()]).numpy()


def make_torch_adam(parameters):
    """``torch.optim.Adam`` with the shared settings, fused on CPU when supported."""
    torch = _torch()
    parameters = list(parameters)
    kwargs = dict(lr=ADAM["lr"], betas=(ADAM["beta_1"], ADAM["beta_2"]), eps=ADAM["epsilon"])
    try:
        return torch.optim.Adam(parameters, fused=True, **kwargs), True
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(parameters, **kwargs), False


TRAINERS = {
    ESTIMATOR: FastmlpEstimator,
    ESTIMATOR_DIAG: FastmlpEstimatorDiagnostics,
    NETWORK: FastmlpNetwork,
    SKLEARN: Sklearn,
    TORCH: Torch,
}
# The runners one training child measures, their repeats alternating. The estimator with
# and without diagnostics share a process so that their difference (a few percent) is
# measured under the same conditions, not across two processes' load.
TRAIN_CHILDREN = {
    ESTIMATOR: (FastmlpEstimator, FastmlpEstimatorDiagnostics),
    NETWORK: (FastmlpNetwork,),
    SKLEARN: (Sklearn,),
    TORCH: (Torch,),
}


def train_libraries(estimator=True):
    """The children of a training row (PyTorch when installed)."""
    libraries = [ESTIMATOR] if estimator else []
    return libraries + [NETWORK, SKLEARN] + ([TORCH] if HAVE_TORCH else [])


def predict_libraries():
    """The libraries of a prediction row (PyTorch when installed)."""
    return [ESTIMATOR, NETWORK, SKLEARN] + ([TORCH] if HAVE_TORCH else [])


# ---- prediction: fit briefly, then time only the prediction --------------------------------
FIT_EPOCHS = 3


def make_predictor(library, pcase):
    """``predict(X) -> probabilities`` of a model of ``library`` fitted for a few epochs on
    random data: ``predict_proba`` of the classifiers, ``Network.forward``, or PyTorch's
    forward pass under ``torch.no_grad`` with a softmax (NumPy in, NumPy out)."""
    batch = min(200, pcase.fit_samples)
    case = Case(pcase.sizes, batch, "float32", n_samples=pcase.fit_samples)
    runner = TRAINERS[library](case, make_data(case))
    runner.run(FIT_EPOCHS)
    if library == NETWORK:
        return runner.net.forward
    if library == TORCH:
        torch, model = _torch(), runner.model.eval()

        def predict(X):
            with torch.no_grad():
                return torch.softmax(model(torch.from_numpy(X)), dim=1).numpy()

        return predict
    return runner.est.predict_proba


def prediction_input(pcase, seed=SEED):
    """``rows`` random float32 rows (C-contiguous, what the fast paths take)."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((pcase.rows, pcase.sizes[0]), dtype=np.float32)


def measure_calls(
    library, calls, n_rows, repeats, min_seconds, block_seconds, between=lambda: None
):
    """Median rows/s of ``calls`` (``{threads: fn}``, each predicting ``n_rows`` rows).

    Calls run in blocks of equal length (long enough to time reliably: at least
    ``block_seconds``, and one call at least) inside the thread setting, the settings
    alternating; ``max(repeats, min_seconds / block_seconds)`` blocks per setting; the
    rate of a block is its rows over its time; ``between()`` runs before each round of
    blocks and after the last. Returns measure()'s dictionary.
    """
    sizes = {}
    for threads, fn in calls.items():
        with limit_threads(library, threads):
            fn()  # warm-up: compilation or cache loading, first-touch allocation
            start = time.perf_counter()
            fn()
            one = time.perf_counter() - start
        sizes[threads] = max(1, math.ceil(block_seconds / max(one, 1e-9)))
    blocks = max(repeats, math.ceil(min_seconds / block_seconds) if block_seconds else 0)
    runs = {t: [] for t in calls}
    for _ in range(blocks):
        between()
        for threads, fn in calls.items():
            with limit_threads(library, threads):
                start = time.perf_counter()
                for _ in range(sizes[threads]):
                    fn()
                seconds = time.perf_counter() - start
            runs[threads].append(sizes[threads] * n_rows / seconds)
    between()
    return {thread_label(library, t): summarize(library, t, runs[t], calls=sizes[t]) for t in calls}


def thread_label(library, threads):
    """``library (N threads)``: the key of one thread setting's results."""
    if threads is None:
        return library
    return f"{library} ({threads} thread{'s' if threads > 1 else ''})"


def summarize(library, threads, runs, **extra):
    return {
        "library": library,
        "threads": threads,
        "median": statistics.median(runs),
        "min": min(runs),
        "max": max(runs),
        "runs": runs,
        **extra,
    }


# ---- timing --------------------------------------------------------------------------------
def measure(runners, n_samples, repeats, min_seconds, between=lambda: None):
    """Median samples/s of each runner over alternating repeats of whole epochs;
    ``between()`` runs before each round of repeats and after the last.

    Returns ``{label: {"library", "threads", "median", "min", "max", "runs", "epochs"}}``
    (rates in samples/s).
    """
    epochs = {}
    for r in runners:
        r.run(1)  # warm-up: compilation, cache loading, first-touch allocation
        start = time.perf_counter()
        r.run(1)
        one = time.perf_counter() - start
        epochs[r.label] = max(1, math.ceil(min_seconds / max(one, 1e-9)))
    runs = {r.label: [] for r in runners}
    for _ in range(repeats):
        between()
        for r in runners:
            start = time.perf_counter()
            r.run(epochs[r.label])
            seconds = time.perf_counter() - start
            runs[r.label].append(epochs[r.label] * n_samples / seconds)
    between()
    return {
        r.label: summarize(r.library, r.threads, runs[r.label], epochs=epochs[r.label])
        for r in runners
    }


class GemmProbe:
    """Times n x n x n numpy products in one dtype (default threads), in GFLOP/s."""

    def __init__(self, dtype, n=1024):
        rng = np.random.RandomState(SEED)
        self.n = n
        self.A = rng.standard_normal((n, n)).astype(dtype)
        self.B = rng.standard_normal((n, n)).astype(dtype)
        self.C = np.empty((n, n), dtype=dtype)
        self.samples = []

    def sample(self, repeats, warmup=1):
        for _ in range(warmup):
            np.matmul(self.A, self.B, out=self.C)
        for _ in range(repeats):
            start = time.perf_counter()
            np.matmul(self.A, self.B, out=self.C)
            self.samples.append(2 * self.n**3 / (time.perf_counter() - start) / 1e9)
        return self.samples


def gemm_rate(dtype, repeats=15, n=1024):
    """GFLOP/s of an n x n x n numpy product over ``repeats`` runs (default threads)."""
    return GemmProbe(dtype, n).sample(repeats, warmup=3)


# An OpenBLAS pool's threads spin for up to ~0.1 s after a product (2^28 cycles): fastmlp's
# (SciPy's) and NumPy's are two pools, so a paired probe waits that out on both sides (right
# after a fastmlp repeat, NumPy's 2-thread product ran at half its rate, 95 GFLOP/s against
# 203 on a Zen 4).
BLAS_IDLE_SECONDS = 0.25


def paired_gemm(dtype, wanted, repeats=3):
    """``(probe, between)``: ``between()`` samples the GEMM rate in this process between a
    child's rounds of repeats, so that the row's fraction of it compares rates of the same
    minutes (the machine's GEMM rate moved by a third between runs on shared hosts).
    Unless ``wanted``: ``(None, a no-op)``."""
    if not wanted:
        return None, lambda: None
    probe = GemmProbe(dtype)

    def between():
        time.sleep(BLAS_IDLE_SECONDS)
        probe.sample(repeats)
        time.sleep(BLAS_IDLE_SECONDS)

    return probe, between


def summarize_gemm(samples):
    return {
        "median": statistics.median(samples),
        "min": min(samples),
        "max": max(samples),
        "runs": samples,
    }


# ---- the worker (child) side ---------------------------------------------------------------
def run_worker(kind, library, spec, threads, repeats, min_seconds):
    """One child's measurement, as a JSON-serialisable dictionary.

    ``kind`` is "train" (``spec``: a Case's fields), "latency" or "bulk" (a PredictCase's
    fields) or "gemm" (no spec, no library). Returns ``{"results": ..., "info": ...}``.
    """
    threads = [None if t == 0 else t for t in threads]
    probe = None
    if kind == "gemm":
        results = {dt: gemm_rate(dt) for dt in ("float32", "float64")}
    elif kind == "train":
        case = case_from_spec(Case, spec)
        data = make_data(case)
        if library not in TRAIN_CHILDREN:
            raise ValueError(f"no training child for {library!r}; one of {list(TRAIN_CHILDREN)}")
        runners = [cls(case, data, t) for cls in TRAIN_CHILDREN[library] for t in threads]
        probe, between = paired_gemm(case.dtype, library in PAIRED)
        results = measure(runners, case.n_samples, repeats, min_seconds, between)
    elif kind in ("latency", "bulk"):
        pcase = case_from_spec(PredictCase, spec)
        predict, X = make_predictor(library, pcase), prediction_input(pcase)
        calls = {t: (lambda: predict(X)) for t in threads}
        # one-row latency: blocks of >= 20 ms, many blocks; bulk: one call a block
        block = min_seconds / 10 if kind == "latency" else 0.0
        probe, between = paired_gemm("float32", kind == "bulk" and library in PAIRED)
        results = measure_calls(library, calls, pcase.rows, repeats, min_seconds, block, between)
    else:
        raise ValueError(f"unknown worker kind {kind!r}")
    if probe is not None:
        for result in results.values():
            result["gemm_runs"] = probe.samples
    return {"results": results, "info": worker_info(library)}


def case_from_spec(cls, spec):
    """A Case/PredictCase from its JSON fields (lists back to tuples)."""
    fields = dict(spec)
    fields["sizes"] = tuple(fields["sizes"])
    fields["targets"] = tuple(tuple(t) for t in fields.get("targets", ()))
    return cls(**fields)


def worker_info(library):
    """What the parent cannot see without running the library: PyTorch's settings."""
    if library != TORCH:
        return {}
    torch = _torch()
    return {
        "torch": torch.__version__,
        "torch_default_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "torch_blas": "mkl" if torch.backends.mkl.is_available() else "other",
        "torch_adam_fused": make_torch_adam([torch.nn.Parameter(torch.zeros(1))])[1],
    }


# ---- the parent side -----------------------------------------------------------------------
def child_command(kind, library=None, spec=None, threads=THREADS, repeats=3, min_seconds=0.2):
    """The command line of one child process (run with ``cwd=ROOT``)."""
    cmd = [sys.executable, "-m", "bench.compare", "--worker", kind]
    cmd += ["--library", library] if library else []
    cmd += ["--spec", json.dumps(spec, default=_json_default)] if spec is not None else []
    cmd += ["--threads", *[str(0 if t is None else t) for t in threads]]
    return cmd + ["--repeats", str(repeats), "--min-seconds", repr(min_seconds)]


def run_child(kind, library=None, spec=None, **options):
    """Run one child process and return its ``{"results", "info"}``.

    The child prints its result as the last line of stdout; anything a library prints
    before it is ignored. A failing child raises RuntimeError with the end of its stderr.
    """
    cmd = child_command(kind, library, spec, **options)
    proc = subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, timeout=CHILD_TIMEOUT, check=False
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(
            f"{' '.join(cmd[1:6])} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
        )
    return json.loads(lines[-1])


def run_row(kind, case, libraries, args, info):
    """Every library's child for one row, one after another; the merged results."""
    results = {}
    spec = asdict(case)
    for library in libraries:
        out = run_child(
            kind,
            library,
            spec,
            threads=args.threads,
            repeats=args.repeats,
            min_seconds=args.min_seconds,
        )
        results.update(out["results"])
        info.update(out["info"])
    return results


# ---- one row -------------------------------------------------------------------------------
def best_of(results, library):
    """Label of the library's fastest thread setting (None when it was not measured)."""
    labels = [k for k, v in results.items() if v["library"] == library]
    return max(labels, key=lambda k: results[k]["median"], default=None)


def evaluate(case, results, gemm):
    """A row of derived numbers: each library's best setting, the faster peer, the ratios
    (the estimator's and the Network's), the fractions of the GEMM rate, the diagnostics'
    cost, and each target met or not.

    ``case`` is a Case (rates: training samples/s, 6 x n_weights FLOPs each) or a
    PredictCase (rates: predicted rows/s, 2 x n_weights FLOPs each).
    """
    training = isinstance(case, Case)
    best = {lib: best_of(results, lib) for lib in LIBRARIES}
    rate = {lib: results[label]["median"] for lib, label in best.items() if label}
    peers = {lib: rate[lib] for lib in PEERS if lib in rate}
    peer = max(peers, key=peers.get) if peers else None
    run_gemm = gemm[case.dtype if training else "float32"]["median"]

    def ratio(lib):
        return rate[lib] / peers[peer] if lib in rate and peer else None

    def gemm_of(lib):
        """The GEMM rate timed beside ``lib``'s repeats, else the run's."""
        paired = results[best[lib]].get("gemm_runs")
        return statistics.median(paired) if paired else run_gemm

    def fraction(lib):
        if lib not in rate:
            return None
        return gflops(case.sizes, rate[lib], 6 if training else 2) / gemm_of(lib)

    metrics = {
        "ratio": ratio(ESTIMATOR),
        "network_ratio": ratio(NETWORK),
        "gemm_fraction": fraction(ESTIMATOR),
        "network_gemm_fraction": fraction(NETWORK),
        "gemm_gflops": gemm_of(ESTIMATOR) if ESTIMATOR in rate else None,
    }
    if ESTIMATOR in rate and ESTIMATOR_DIAG in rate:
        metrics["diag_cost"] = rate[ESTIMATOR] / rate[ESTIMATOR_DIAG] - 1
    if not training and case.rows == 1 and NETWORK in rate:
        metrics["network_us"] = 1e6 / rate[NETWORK]
    return {
        "case": asdict(case),
        "key": case.key,
        "name": case.name,
        "kind": "train" if training else case.kind,
        "results": results,
        "best": best,
        "faster_peer": best[peer] if peer else None,
        "metrics": metrics,
        # what bench/plot.py draws: the estimator's ratio, or the Network's without it
        "ratio": metrics["network_ratio"] if metrics["ratio"] is None else metrics["ratio"],
        "targets": [list(t) for t in case.targets],
        "met": [target_met(t, metrics) for t in case.targets],
    }


# ---- report --------------------------------------------------------------------------------
def fmt_rate(x):
    if x >= 1e6:
        return f"{x / 1e6:.2f} M"
    if x >= 1e4:
        return f"{x / 1e3:.0f} k"
    if x >= 1e3:
        return f"{x / 1e3:.1f} k"
    return f"{x:.0f}"


def fmt_us(rate):
    """One call's time in µs from calls/s."""
    us = 1e6 / rate
    return f"{us:.1f} µs" if us < 100 else f"{us:.0f} µs"


def _cell(row, library, fmt=fmt_rate):
    label = row["best"].get(library)
    if label is None:
        return "n/a"
    res = row["results"][label]
    threads = f" ({res['threads']})" if res["threads"] is not None else ""
    return fmt(res["median"]) + threads


def _times(x):
    return "n/a" if x is None else f"{x:.1f}×"


def _percent(x, signed=False):
    if x is None:
        return "n/a"
    return f"{x:+.1%}" if signed else f"{x:.0%}"


def _gemm_cell(metrics):
    estimator, network = metrics["gemm_fraction"], metrics["network_gemm_fraction"]
    rate = metrics.get("gemm_gflops")
    of = f" of {rate:.0f}" if rate else ""
    return f"{_percent(estimator)} ({_percent(network)}){of}"


def _peer_name(row):
    if row["faster_peer"] is None:
        return ""
    return (
        " ("
        + row["results"][row["faster_peer"]]["library"].replace("scikit-learn", "sklearn")
        + ")"
    )


def _targets_cells(row):
    targets = [describe_target(tuple(t)) for t in row["targets"]]
    met = [{None: "n/a", True: "yes", False: "**no**"}[m] for m in row["met"]]
    return ["; ".join(targets), "; ".join(met)]


def _markdown(header, lines):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    return "\n".join(out + ["| " + " | ".join(cells) + " |" for cells in lines])


def format_table(rows):
    """The training table: median samples/s (threads of the best setting in parentheses)."""
    header = [
        "network",
        "batch",
        "dtype",
        "fastmlp MLP*",
        "MLP* diagnostics=True",
        "diagnostics cost",
        "fastmlp Network",
        "scikit-learn",
        "PyTorch",
        "MLP* / faster peer",
        "Network / faster peer",
        "% of sgemm: MLP* (Network) of GFLOP/s",
        "target",
        "met?",
    ]
    lines = []
    for r in rows:
        m, case = r["metrics"], r["case"]
        lines.append(
            [r["name"], str(case["batch"]), case["dtype"]]
            + [_cell(r, lib) for lib in (ESTIMATOR, ESTIMATOR_DIAG)]
            + [_percent(m.get("diag_cost"), signed=True)]
            + [_cell(r, lib) for lib in (NETWORK, SKLEARN, TORCH)]
            + [_times(m["ratio"]) + _peer_name(r), _times(m["network_ratio"])]
            + [_gemm_cell(m)]
            + _targets_cells(r)
        )
    return _markdown(header, lines)


def format_predict_table(rows):
    """The prediction table: one row's latency in µs, or bulk rows/s."""
    header = [
        "work",
        "scikit-learn",
        "PyTorch",
        "fastmlp MLPClassifier",
        "fastmlp Network.forward",
        "MLP* / faster peer",
        "% of sgemm: MLP* (Network) of GFLOP/s",
        "target",
        "met?",
    ]
    lines = []
    for r in rows:
        m, rows_ = r["metrics"], r["case"]["rows"]
        if rows_ == 1:
            work, fmt = f"`predict_proba` of one row, {r['name']}", fmt_us
        else:
            work, fmt = f"`predict_proba` of {rows_:,} rows, {r['name']} (rows/s)", fmt_rate
        lines.append(
            [work]
            + [_cell(r, lib, fmt) for lib in (SKLEARN, TORCH, ESTIMATOR, NETWORK)]
            + [_times(m["ratio"]) + _peer_name(r)]
            + [_gemm_cell(m) if rows_ > 1 else ""]
            + _targets_cells(r)
        )
    return _markdown(header, lines)


def source_version():
    """Commit of the checkout, with '+dirty' when tracked files have uncommitted changes."""
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        kw = dict(capture_output=True, text=True, check=True, timeout=10, cwd=here)
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], **kw).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], **kw
        ).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def environment():
    """Versions, machine and every thread setting that matters here."""
    env = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "scikit-learn": sklearn.__version__,
        "torch": None,  # filled in from the PyTorch children's report
        "fastmlp": f"{fastmlp.__version__} ({source_version()})",
        "machine": f"{platform.machine()}, {cpu_model()}, os.cpu_count()={os.cpu_count()}",
        "numba_num_threads": numba.get_num_threads(),
        "env_vars": {
            k: os.environ[k]
            for k in (
                "OMP_NUM_THREADS",
                "OPENBLAS_NUM_THREADS",
                "MKL_NUM_THREADS",
                "NUMBA_NUM_THREADS",
                "NUMBA_CACHE_DIR",
            )
            if k in os.environ
        },
        "threadpools": [
            {
                k: pool.get(k)
                for k in (
                    "user_api",
                    "internal_api",
                    "prefix",
                    "version",
                    "num_threads",
                    "filepath",
                )
            }
            for pool in threadpool_info()
        ],
    }
    return env


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def format_environment(env, gemm, threads):
    counts = " and ".join(map(str, threads))
    lines = [
        f"Python {env['python']}, NumPy {env['numpy']}, Numba {env['numba']}, "
        f"scikit-learn {env['scikit-learn']}, PyTorch {env['torch'] or 'not installed'}, "
        f"fastmlp {env['fastmlp']}",
        f"Machine: {env['machine']}; load average (1, 5, 15 min) {env.get('load_before')} "
        f"before, {env.get('load_after')} after",
        "",
        "Thread settings:",
        f"- numba.get_num_threads() = {env['numba_num_threads']} (fastmlp's kernels are "
        "serial; its larger matrix products call SciPy's BLAS)",
    ]
    for pool in env["threadpools"]:
        lines.append(
            f"- threadpoolctl {pool['user_api']}: {pool['internal_api']} {pool['version']} "
            f"num_threads={pool['num_threads']} ({os.path.basename(pool['filepath'] or '')})"
        )
    if env.get("torch_default_threads") is not None:
        lines.append(
            f"- torch: default num_threads={env['torch_default_threads']}, "
            f"interop={env['torch_interop_threads']}, BLAS={env['torch_blas']}, "
            f"Adam fused={env['torch_adam_fused']} (as a child process sees them)"
        )
    else:
        lines.append(
            '- torch: not run (not installed: pip install -e ".[torch]" to add the column)'
        )
    lines.append(f"- environment: {env['env_vars'] or 'no thread variables set'}")
    lines.append(
        f"- every library measured at {counts} threads (PyTorch: set_num_threads; the others: "
        "BLAS pools via threadpoolctl), each in its own process, the faster kept: the thread "
        "count is in parentheses"
    )
    lines.append("")
    lines.append(
        "GEMM rate (1024^3 numpy product, default threads, in a process of its own before "
        "and after the rows; each row's % of sgemm divides by the rate timed beside it): "
        + ", ".join(
            f"{dt} median {g['median']:.0f} GFLOP/s (min {g['min']:.0f}, max {g['max']:.0f})"
            for dt, g in gemm.items()
        )
    )
    return "\n".join(lines)


def run_rows(kind, cases, libraries, args, info, label):
    """Measure every case (its libraries one child after another); ``[(case, results)]``."""
    measured = []
    for case in cases:
        started = time.perf_counter()
        results = run_row(kind or case.kind, case, libraries, args, info)
        measured.append((case, results))
        print(
            f"  [{label}] {case.key}: {len(libraries)} processes, "
            f"{time.perf_counter() - started:.0f} s",
            file=sys.stderr,
            flush=True,
        )
    return measured


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="the performance-target rows only (float32), 3 repeats of >= 0.2 s",
    )
    parser.add_argument(
        "--sweep",
        action="store_true",
        help=f"also sweep batch sizes {SWEEP_BATCHES} on "
        f"{'-'.join(map(str, SWEEP_SIZES))} float32 (for bench/plot.py)",
    )
    parser.add_argument("--out", help="write the raw numbers to this JSON file")
    parser.add_argument("--repeats", type=int, help="timed repeats per library (default 5)")
    parser.add_argument(
        "--min-seconds", type=float, help="minimum duration of one timed repeat (default 0.3)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=list(THREADS),
        help="thread counts to measure each library at (default: 1 2)",
    )
    parser.add_argument(
        "--no-estimator",
        action="store_true",
        help="skip the fastmlp MLPClassifier/MLPRegressor columns of the training rows",
    )
    parser.add_argument(
        "--device",
        choices=["cpu", "cuda"],
        default="cpu",
        help="cuda: fastmlp's CUDA target beside PyTorch on CUDA instead (bench/compare_cuda.py; "
        "--quick, --repeats and --min-seconds carry over)",
    )
    parser.add_argument(
        "--cases",
        nargs="+",
        default=[],
        metavar="PATTERN",
        help="only the rows whose key contains one of these, e.g. 20-64-64-2@1 :float64 "
        "predict-1row predict-bulk",
    )
    # the child-process side (what the parent runs; not for direct use)
    parser.add_argument(
        "--worker", choices=["train", "latency", "bulk", "gemm"], help=argparse.SUPPRESS
    )
    parser.add_argument("--library", choices=LIBRARIES, help=argparse.SUPPRESS)
    parser.add_argument("--spec", type=json.loads, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 3 if args.quick else 5
    if args.min_seconds is None:
        args.min_seconds = 0.2 if args.quick else 0.3
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.device == "cuda":
        from bench import compare_cuda  # absolute: the tests load this file on its own

        forwarded = ["--quick"] if args.quick else []
        forwarded += ["--repeats", str(args.repeats), "--min-seconds", str(args.min_seconds)]
        return compare_cuda.main(forwarded)
    if args.worker:
        out = run_worker(
            args.worker, args.library, args.spec, args.threads, args.repeats, args.min_seconds
        )
        print(json.dumps(out, default=_json_default))
        return out

    env = environment()
    env["load_before"] = [round(x, 2) for x in os.getloadavg()]
    started = time.perf_counter()
    dtypes = ("float32",) if args.quick else ("float32", "float64")
    train = select(table_cases(dtypes, others=not args.quick), args.cases)
    predict = select(PREDICT_CASES, args.cases)
    sweep = select(sweep_cases(), args.cases) if args.sweep else []
    info = {}
    gemm_before = run_child("gemm")["results"]
    libraries = train_libraries(not args.no_estimator)
    table = run_rows("train", train, libraries, args, info, "training")
    predicted = run_rows(None, predict, predict_libraries(), args, info, "prediction")
    swept = run_rows("train", sweep, libraries, args, info, "sweep")
    gemm_after = run_child("gemm")["results"]
    gemm = {dt: summarize_gemm(gemm_before[dt] + gemm_after[dt]) for dt in gemm_before}
    env["load_after"] = [round(x, 2) for x in os.getloadavg()]
    env.update(info)
    rows = [evaluate(case, results, gemm) for case, results in table]
    predict_rows = [evaluate(case, results, gemm) for case, results in predicted]
    sweep_rows = [evaluate(case, results, gemm) for case, results in swept]

    print(format_environment(env, gemm, args.threads))
    print()
    print(report(rows, predict_rows, sweep_rows, args))
    print()
    print(f"Total time {time.perf_counter() - started:.0f} s.")
    if args.out:
        settings = {
            "repeats": args.repeats,
            "min_seconds": args.min_seconds,
            "threads": args.threads,
            "adam": ADAM,
        }
        with open(args.out, "w") as f:
            json.dump(
                {
                    "environment": env,
                    "gemm": gemm,
                    "settings": settings,
                    "rows": rows,
                    "predict": predict_rows,
                    "sweep": sweep_rows,
                },
                f,
                indent=1,
                default=_json_default,
            )
    return rows, predict_rows, sweep_rows


def report(rows, predict_rows, sweep_rows, args):
    """The tables, each under a line saying how it was measured."""
    parts = []
    if rows:
        parts += [
            f"Training: median samples/s over {args.repeats} repeats of >= "
            f"{args.min_seconds:g} s (whole epochs, adam, lr={ADAM['lr']:g}, no L2). Targets "
            "(float32 rows) are read on the MLP* column (the estimator with its defaults); "
            "% of sgemm is 6 x weights FLOPs a sample over the GEMM rate of the row's dtype, "
            "timed between the fastmlp child's repeats (its median in GFLOP/s after 'of'); "
            "diagnostics cost is the diagnostics=True time over the MLP* time, minus 1.",
            "",
            format_table(rows),
        ]
    if predict_rows:
        parts += [
            "" if parts else None,
            "Prediction (float32, models fitted for a few epochs on random data first): one "
            "row's latency as the median over blocks of many calls; 100k rows in rows/s over "
            f"{args.repeats} calls; % of sgemm is 2 x weights FLOPs a row over the float32 "
            "GEMM rate timed between the fastmlp child's calls.",
            "",
            format_predict_table(predict_rows),
        ]
    if sweep_rows:
        parts += [
            "",
            f"Batch-size sweep, {'-'.join(map(str, SWEEP_SIZES))}, float32:",
            "",
            format_table(sweep_rows),
        ]
    return "\n".join(p for p in parts if p is not None)


def _json_default(obj):
    if isinstance(obj, (np.integer, np.floating, np.bool_)):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj)}")


if __name__ == "__main__":
    result = main()
    sys.exit(result if isinstance(result, int) else 0)  # --device cuda: 1 without a GPU
