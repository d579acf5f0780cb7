"""Training throughput of fastmlp beside scikit-learn and PyTorch (CPU), in one run.

Run from the repository root::

    python bench/compare.py                 # the full table (a few minutes)
    python -m bench.compare --quick         # float32 only, 3 repeats
    python bench/compare.py --sweep --out results.json && python bench/plot.py results.json

Every library trains the same architecture (relu hidden layers), on the same synthetic data
(fixed seed), with the same optimizer (adam, same learning rate, betas and epsilon, no
weight penalty), batch size and per-epoch reshuffling:

- fastmlp: ``Network.fit`` with diagnostics off (the column the ratios use: the same work
  as the peers), and the ``MLPClassifier`` / ``MLPRegressor`` wrapper around it (default
  settings: diagnostics on, default threads);
- scikit-learn: ``MLPClassifier`` / ``MLPRegressor``;
- PyTorch: ``torch.nn.Sequential`` of ``Linear`` + ``ReLU`` and ``torch.optim.Adam`` (fused
  where the installed version allows it), in a DataLoader-free loop over a per-epoch
  ``torch.randperm``.

Each library is measured at 1 and at 2 threads, keeping the faster: ``torch.set_num_threads``
for PyTorch, the BLAS pools (``threadpoolctl.threadpool_limits``) for fastmlp's
``Network`` and for scikit-learn. On a shared 2-core machine a 2-thread BLAS can lose 10x
when another process holds a core, so the best thread count is the fair comparison; the
table shows which one won.

Outputs: one linear unit with squared error for regression, softmax with log loss for
more than two classes, and for two outputs two logistic units with binary log loss (a
scikit-learn classifier given two classes would build a single output unit, so it gets the
targets as a two-column indicator matrix instead).

Measurement: each library first trains one epoch (warm-up: Numba compilation or cache
loading, allocator warm-up), then a calibration epoch sets how many whole epochs one
timed repeat runs (at least ``--min-seconds``); repeats are interleaved across the
libraries (A, B, C, A, B, C, ...) so that load from other processes on a shared machine
hits them alike, and the median over repeats is reported in samples per second. The
epoch counts differ between libraries (each repeat is whole epochs over the same data);
they are in the JSON output.

Achieved GFLOP/s counts 6 x n_params FLOPs per training sample (2 each for the forward
product, the input-delta product and the weight-gradient product) and is compared with
this machine's GEMM rate, measured in the same run as the median time of a 1024 x 1024 x
1024 numpy product in the same dtype.
"""

import argparse
import json
import math
import os
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

try:  # optional peer: the column is skipped with a note when it is missing
    import torch
except ImportError:  # pragma: no cover - depends on the environment
    torch = None

SEED = 0
# The shared optimizer settings (scikit-learn's adam defaults, no L2 penalty).
ADAM = {"lr": 1e-3, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-8}
THREADS = (1, 2)  # thread counts each library is measured at
SWEEP_SIZES = (64, 128, 10)
SWEEP_BATCHES = (1, 4, 16, 64, 256)


@dataclass(frozen=True)
class Case:
    """One row of the table: architecture, batch size, dtype and the target, if any.

    ``target`` is ``("ratio", x)``: fastmlp at least x times the faster peer, or
    ``("gemm", f)``: fastmlp's GFLOP/s at least a fraction f of the GEMM rate.
    """

    sizes: tuple
    batch: int
    dtype: str = "float32"
    target: tuple | None = None
    n_samples: int = 4096

    @property
    def name(self):
        return "-".join(map(str, self.sizes))

    @property
    def task(self):
        return task_of(self.sizes)


# (sizes, batch, float32 target, samples per epoch). The training engine's original cases
# (20-64-64-2 at batch 1, 784-256-10) follow the batch-size rule or have no target. The epoch
# lengths keep one epoch of the slowest peer under ~1 s: every timed repeat is at least one
# whole epoch.
CASE_SPECS = [
    ((10, 32, 1), 1, ("ratio", 30.0), 1024),
    ((20, 64, 64, 2), 1, ("ratio", 30.0), 1024),
    ((20, 64, 64, 2), 16, ("ratio", 20.0), 4096),
    ((64, 128, 10), 64, ("ratio", 4.0), 4096),
    ((784, 256, 10), 128, None, 2048),
    ((784, 512, 10), 128, ("ratio", 2.5), 2048),
    ((784, 1024, 1024, 10), 256, ("gemm", 0.75), 1024),
]


def table_cases(dtypes=("float32", "float64")):
    """The table's cases; targets apply to float32 only."""
    return [
        Case(sizes, batch, dtype, target if dtype == "float32" else None, n)
        for sizes, batch, target, n in CASE_SPECS
        for dtype in dtypes
    ]


def sweep_cases(dtype="float32"):
    """Batch sizes 1..256 on one architecture, for the plot."""
    return [
        Case(SWEEP_SIZES, batch, dtype, None, {1: 1024, 4: 2048}.get(batch, 4096))
        for batch in SWEEP_BATCHES
    ]


# ---- counting ------------------------------------------------------------------------------
def n_params(sizes):
    """Weights and intercepts of a dense network with these layer sizes."""
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def flops_per_sample(sizes):
    """Training FLOPs per sample: 6 x n_params (forward, input-delta, weight-gradient)."""
    return 6 * n_params(sizes)


def gflops(sizes, samples_per_s):
    return flops_per_sample(sizes) * samples_per_s / 1e9


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
LIBRARIES = (NETWORK, ESTIMATOR, SKLEARN, TORCH)


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
        if self.threads is None:
            return self.library
        return f"{self.library} ({self.threads} thread{'s' if self.threads > 1 else ''})"

    def run(self, epochs):
        if self.threads is None:
            self._train(epochs)
            return
        with _blas_controller().limit(limits=self.threads, user_api="blas"):
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


class FastmlpNetwork(Runner):
    """``fastmlp.Network.fit`` with ``max_iter=epochs`` (stopping rule disabled).

    Diagnostics are off here, so this column does the peers' work and no more; the
    estimator column keeps the defaults (diagnostics on) and shows what they cost.
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

    def __init__(self, case, data, threads=None):
        super().__init__(threads)
        self.case = case
        self.X, _, self.y = data
        cls = self.regressor if case.task == "regression" else self.classifier
        self.est = cls(
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
    """fastmlp's drop-in ``MLPClassifier`` / ``MLPRegressor``."""

    library = ESTIMATOR
    classifier, regressor = fastmlp.MLPClassifier, fastmlp.MLPRegressor


class Sklearn(_EstimatorRunner):
    """scikit-learn's ``MLPClassifier`` / ``MLPRegressor``."""

    library = SKLEARN
    classifier, regressor = neural_network.MLPClassifier, neural_network.MLPRegressor


class Torch(Runner):
    """The training loop a competent PyTorch user writes for in-memory data."""

    library = TORCH

    def __init__(self, case, data, threads=None):
        if torch is None:
            raise RuntimeError("PyTorch is not installed")
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
        previous = torch.get_num_threads()
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        try:
            self._train(epochs)
        finally:
            torch.set_num_threads(previous)

    def _train(self, epochs):
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
        linears = [m for m in self.model if isinstance(m, torch.nn.Linear)]
        return [linears[0].in_features] + [m.out_features for m in linears]

    def param_dtype(self):
        return np.dtype(str(next(self.model.parameters()).dtype).replace("torch.", ""))

    def params_snapshot(self):
        with torch.no_grad():
            return torch.cat([p.detach().ravel() for p in self.model.parameters()]).numpy()


def make_torch_adam(parameters):
    """``torch.optim.Adam`` with the shared settings, fused on CPU when supported."""
    parameters = list(parameters)
    kwargs = dict(lr=ADAM["lr"], betas=(ADAM["beta_1"], ADAM["beta_2"]), eps=ADAM["epsilon"])
    try:
        return torch.optim.Adam(parameters, fused=True, **kwargs), True
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(parameters, **kwargs), False


def make_runners(case, data, threads=THREADS, estimator=True):
    """Every library on ``case``, each at every thread count (the estimator: as is)."""
    runners = [FastmlpNetwork(case, data, t) for t in threads]
    if estimator:
        runners.append(FastmlpEstimator(case, data))
    runners += [Sklearn(case, data, t) for t in threads]
    if torch is not None:
        runners += [Torch(case, data, t) for t in threads]
    return runners


# ---- timing --------------------------------------------------------------------------------
def measure(runners, n_samples, repeats, min_seconds):
    """Median samples/s of each runner over interleaved repeats of whole epochs.

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
        for r in runners:
            start = time.perf_counter()
            r.run(epochs[r.label])
            seconds = time.perf_counter() - start
            runs[r.label].append(epochs[r.label] * n_samples / seconds)
    return {
        r.label: {
            "library": r.library,
            "threads": r.threads,
            "median": statistics.median(runs[r.label]),
            "min": min(runs[r.label]),
            "max": max(runs[r.label]),
            "runs": runs[r.label],
            "epochs": epochs[r.label],
        }
        for r in runners
    }


def gemm_rate(dtype, repeats=15, n=1024):
    """GFLOP/s of an n x n x n numpy product over ``repeats`` runs (default threads)."""
    rng = np.random.RandomState(SEED)
    A = rng.standard_normal((n, n)).astype(dtype)
    B = rng.standard_normal((n, n)).astype(dtype)
    C = np.empty((n, n), dtype=dtype)
    for _ in range(3):
        np.matmul(A, B, out=C)
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        np.matmul(A, B, out=C)
        rates.append(2 * n**3 / (time.perf_counter() - start) / 1e9)
    return rates


def summarize_gemm(samples):
    return {
        "median": statistics.median(samples),
        "min": min(samples),
        "max": max(samples),
        "runs": samples,
    }


# ---- one row -------------------------------------------------------------------------------
def best_of(results, library):
    """Label of the library's fastest thread setting (None when it was not measured)."""
    labels = [k for k, v in results.items() if v["library"] == library]
    return max(labels, key=lambda k: results[k]["median"], default=None)


def evaluate(case, results, gemm):
    """Row of derived numbers: each library's best setting, the faster peer, the ratio,
    achieved GFLOP/s, the fraction of the GEMM rate and whether the target is met."""
    best = {lib: best_of(results, lib) for lib in LIBRARIES}
    fast = results[best[NETWORK]]["median"]
    peers = {best[lib]: results[best[lib]]["median"] for lib in (SKLEARN, TORCH) if best[lib]}
    peer = max(peers, key=peers.get)
    achieved = gflops(case.sizes, fast)
    row = {
        "case": asdict(case),
        "name": case.name,
        "results": results,
        "best": best,
        "faster_peer": peer,
        "ratio": fast / peers[peer],
        "gflops": achieved,
        "gemm_fraction": achieved / gemm[case.dtype]["median"],
    }
    row["met"] = target_met(case.target, row["ratio"], row["gemm_fraction"])
    return row


def target_met(target, ratio, gemm_fraction):
    """True/False against the target, None when the case has none."""
    if target is None:
        return None
    kind, value = target
    if kind == "ratio":
        return ratio >= value
    if kind == "gemm":
        return gemm_fraction >= value
    raise ValueError(f"unknown target kind {kind!r}")


def describe_target(target):
    if target is None:
        return ""
    kind, value = target
    return f"≥ {value:g}×" if kind == "ratio" else f"≥ {value:.0%} of GEMM"


# ---- report --------------------------------------------------------------------------------
def fmt_rate(x):
    if x >= 1e6:
        return f"{x / 1e6:.2f} M"
    if x >= 1e4:
        return f"{x / 1e3:.0f} k"
    if x >= 1e3:
        return f"{x / 1e3:.1f} k"
    return f"{x:.0f}"


def _cell(row, library):
    label = row["best"].get(library)
    if label is None:
        return "n/a"
    res = row["results"][label]
    threads = f" ({res['threads']})" if res["threads"] is not None else ""
    return fmt_rate(res["median"]) + threads


def format_table(rows):
    """The Markdown table: median samples/s (threads of the best setting in parentheses)."""
    has_est = any(r["best"].get(ESTIMATOR) for r in rows)
    header = ["network", "batch", "dtype", "fastmlp Network"]
    header += ["fastmlp MLP*"] if has_est else []
    header += [
        "scikit-learn",
        "PyTorch",
        "fastmlp / faster peer",
        "fastmlp GFLOP/s",
        "% of GEMM",
        "target",
        "met?",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    for r in rows:
        case = r["case"]
        cells = [r["name"], str(case["batch"]), case["dtype"], _cell(r, NETWORK)]
        cells += [_cell(r, ESTIMATOR)] if has_est else []
        peer = r["results"][r["faster_peer"]]["library"].replace("scikit-learn", "sklearn")
        cells += [
            _cell(r, SKLEARN),
            _cell(r, TORCH),
            f"{r['ratio']:.1f}× ({peer})",
            f"{r['gflops']:.1f}",
            f"{r['gemm_fraction']:.0%}",
            describe_target(tuple(case["target"]) if case["target"] else None),
            {None: "", True: "yes", False: "**no**"}[r["met"]],
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


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
        "torch": torch.__version__ if torch is not None else None,
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
    if torch is not None:
        env["torch_default_threads"] = torch.get_num_threads()
        env["torch_interop_threads"] = torch.get_num_interop_threads()
        env["torch_blas"] = "mkl" if torch.backends.mkl.is_available() else "other"
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


def format_environment(env, gemm, fused, threads):
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
    if env["torch"]:
        lines.append(
            f"- torch: default num_threads={env['torch_default_threads']}, "
            f"interop={env['torch_interop_threads']}, BLAS={env['torch_blas']}, "
            f"Adam fused={fused}"
        )
    else:
        lines.append(
            '- torch: not installed, PyTorch column skipped (pip install -e ".[torch]" to add it)'
        )
    lines.append(f"- environment: {env['env_vars'] or 'no thread variables set'}")
    lines.append(
        f"- fastmlp Network, scikit-learn (BLAS pools via threadpoolctl) and PyTorch "
        f"(set_num_threads) each measured at {counts} threads, the faster kept: the thread "
        "count is in parentheses; fastmlp MLP* runs with the default settings"
    )
    lines.append("")
    lines.append(
        "GEMM rate (1024^3 numpy product, default threads, measured before and after the "
        "cases): "
        + ", ".join(
            f"{dt} median {g['median']:.0f} GFLOP/s (min {g['min']:.0f}, max {g['max']:.0f})"
            for dt, g in gemm.items()
        )
    )
    return "\n".join(lines)


def run_cases(cases, args, label):
    """Measure every case; returns ``[(case, results)]``."""
    measured = []
    for case in cases:
        data = make_data(case)
        runners = make_runners(case, data, tuple(args.threads), not args.no_estimator)
        started = time.perf_counter()
        results = measure(runners, case.n_samples, args.repeats, args.min_seconds)
        measured.append((case, results))
        fast = results[best_of(results, NETWORK)]["median"]
        peer = max((v["median"], k) for k, v in results.items() if v["library"] in (SKLEARN, TORCH))
        print(
            f"  [{label}] {case.name} batch {case.batch} {case.dtype}: fastmlp "
            f"{fmt_rate(fast)} samples/s, {fast / peer[0]:.1f}x {peer[1]} "
            f"({time.perf_counter() - started:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
    return measured


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="float32 cases only, 3 repeats of >= 0.2 s"
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
        help="skip the fastmlp MLPClassifier/MLPRegressor column",
    )
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 3 if args.quick else 5
    if args.min_seconds is None:
        args.min_seconds = 0.2 if args.quick else 0.3

    env = environment()
    env["load_before"] = [round(x, 2) for x in os.getloadavg()]
    started = time.perf_counter()
    dtypes = ("float32", "float64")
    gemm_runs = {dt: gemm_rate(dt) for dt in dtypes}
    table = run_cases(table_cases(("float32",) if args.quick else dtypes), args, "table")
    sweep = run_cases(sweep_cases(), args, "sweep") if args.sweep else []
    gemm = {dt: summarize_gemm(gemm_runs[dt] + gemm_rate(dt)) for dt in dtypes}
    env["load_after"] = [round(x, 2) for x in os.getloadavg()]
    rows = [evaluate(case, results, gemm) for case, results in table]
    sweep_rows = [evaluate(case, results, gemm) for case, results in sweep]
    fused = None
    if torch is not None:
        fused = make_torch_adam([torch.nn.Parameter(torch.zeros(1))])[1]

    print(format_environment(env, gemm, fused, args.threads))
    print()
    print(
        f"Median samples/s over {args.repeats} interleaved repeats of >= "
        f"{args.min_seconds:g} s (whole epochs, adam, lr={ADAM['lr']:g}, no L2); "
        '"fastmlp / faster peer" uses the Network column; targets are for float32; '
        "% of GEMM is against the GEMM rate of the row's dtype."
    )
    print()
    print(format_table(rows))
    if sweep_rows:
        print()
        print(f"Batch-size sweep, {'-'.join(map(str, SWEEP_SIZES))}, float32:")
        print()
        print(format_table(sweep_rows))
    print()
    print(f"Total time {time.perf_counter() - started:.0f} s.")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(
                {
                    "environment": env,
                    "gemm": gemm,
                    "torch_adam_fused": fused,
                    "settings": {
                        "repeats": args.repeats,
                        "min_seconds": args.min_seconds,
                        "threads": args.threads,
                        "adam": ADAM,
                    },
                    "rows": rows,
                    "sweep": sweep_rows,
                },
                f,
                indent=1,
                default=_json_default,
            )
    return rows, sweep_rows


def _json_default(obj):
    if isinstance(obj, (np.integer, np.floating, np.bool_)):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj)}")


if __name__ == "__main__":
    main()
