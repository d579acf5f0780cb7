"""The training loop around the compiled epoch: schedules, stopping, history, safety.

Per epoch, Python only shuffles the sample order (one call into the random stream, so
runs follow scikit-learn's draws), calls the compiled epoch, and does O(parameters)
bookkeeping. Everything per minibatch happens inside ``kernels.cpu.train_epoch``.
"""

import gc
import math
import numbers
import signal
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ._validation import check_number as _number
from ._validation import check_option, check_positive_int
from .kernels import codes, cpu
from .kernels.cpu.train import N_STATS, STAT_BATCHES, STAT_DIVERGED, STAT_GRAD_NORM, STAT_LOSS

SOLVERS = tuple(codes.SOLVERS)
SCHEDULES = ("constant", "invscaling", "adaptive", "step", "exponential", "cosine")
ADAPTIVE_MIN_LR = 1e-6
_gc_lock = threading.Lock()
_gc_pauses = 0  # kernel calls in flight, all threads together
_gc_was_enabled = False


def run_kernel(kernel, *args):
    """Call a compiled kernel with Python's cyclic garbage collector paused.

    A kernel's first call in a process may compile it, and Numba's compiler allocates
    millions of short-lived objects: the collector's passes over them took ~0.6 s of a
    ~5 s cold first fit. The kernels themselves allocate no Python objects, so pausing
    costs nothing; collection resumes (if it was on) as soon as the call returns.
    """
    global _gc_pauses, _gc_was_enabled
    # Calls from several threads overlap: the first in disables, the last out restores
    # (each restoring what it saw would leave the collector off after some interleavings).
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        return kernel(*args)
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                gc.enable()


def kernel_weights(sample_weight, dtype):
    """Sample weights as the kernels take them: an empty array stands for unit weights
    (one compiled signature serves both cases)."""
    return np.empty(0, dtype=dtype) if sample_weight is None else sample_weight


class DivergenceError(ValueError, FloatingPointError):
    """Training produced a non-finite loss or parameter; the last finite weights are kept.

    A ValueError, as scikit-learn raises for non-finite weights, and a FloatingPointError.
    """


@dataclass
class TrainConfig:
    """How to train: optimizer, schedule, regularizers and stopping rules.

    Optimizer conventions (all in place on the flat parameter buffer):

    - ``sgd``: ``v <- momentum v - lr g``; ``w <- w + v`` or, with Nesterov,
      ``w <- w + momentum v - lr g`` (scikit-learn's form).
    - ``adam``: scikit-learn's form, ``lr_t = lr sqrt(1 - beta_2^t) / (1 - beta_1^t)``,
      ``w <- w - lr_t m / (sqrt(v) + epsilon)``, t counted in minibatches.
    - ``adamw``: adam plus decoupled decay ``w <- w - lr weight_decay w`` on the weights
      (not the intercepts), Loshchilov & Hutter.
    - ``adagrad``: ``G <- G + g^2``, ``w <- w - lr g / (sqrt(G) + epsilon)``.
    - ``rmsprop``: ``s <- rho s + (1 - rho) g^2``, ``w <- w - lr g / (sqrt(s) + epsilon)``,
      rho = 0.9 as in Hinton's lecture. Both put epsilon outside the square root, as PyTorch.

    Schedules give the rate used during epoch ``e`` (0-based): constant; invscaling
    ``lr_init / (t + 1)^power_t`` with t the samples seen so far; adaptive (divide by 5 when
    the stopping counter triggers, stop at 1e-6, as scikit-learn); step
    ``lr_init gamma^(e // step_size)``; exponential ``lr_init gamma^e``; cosine from
    ``lr_init`` down to ``lr_min`` over ``horizon`` epochs (default max_iter).
    """

    solver: str = "adam"
    learning_rate_init: float = 0.001
    learning_rate: str = "constant"
    power_t: float = 0.5
    lr_gamma: float = 0.1
    lr_step_size: int = 10
    lr_horizon: int | None = None
    lr_min: float = 0.0
    momentum: float = 0.9
    nesterovs_momentum: bool = True
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-8
    weight_decay: float = 0.01
    rho: float = 0.9
    alpha: float = 0.0
    l1: float = 0.0
    dropout: float | tuple = 0.0
    max_grad_norm: float | None = None
    batch_size: int = 200
    shuffle: bool = True
    max_iter: int = 200
    tol: float = 1e-4
    n_iter_no_change: int | float = 10
    loss_scale: float = 1.0
    diagnostics: bool = True

    def validate(self, n_hidden):
        """Raise ValueError on any out-of-range setting; return the per-layer dropout rates."""
        check_option(self.solver, SOLVERS, "solver")
        check_option(self.learning_rate, SCHEDULES, "learning_rate schedule")
        _number(self.learning_rate_init, "learning_rate_init", low=0, low_open=True)
        _number(self.power_t, "power_t", low=0)
        _number(self.lr_gamma, "lr_gamma", low=0, low_open=True, high=1)
        check_positive_int(self.lr_step_size, "lr_step_size")
        if self.lr_horizon is not None:
            check_positive_int(self.lr_horizon, "lr_horizon")
        _number(self.lr_min, "lr_min", low=0, high=self.learning_rate_init)
        _number(self.momentum, "momentum", low=0, high=1)
        _number(self.beta_1, "beta_1", low=0, high=1, high_open=True)
        _number(self.beta_2, "beta_2", low=0, high=1, high_open=True)
        _number(self.epsilon, "epsilon", low=0, low_open=True)
        _number(self.weight_decay, "weight_decay", low=0)
        _number(self.rho, "rho", low=0, high=1, high_open=True)
        _number(self.alpha, "alpha", low=0)
        _number(self.l1, "l1", low=0)
        if self.max_grad_norm is not None:
            _number(self.max_grad_norm, "max_grad_norm", low=0, low_open=True)
        check_positive_int(self.batch_size, "batch_size")
        check_positive_int(self.max_iter, "max_iter")
        _number(self.tol, "tol", low=0)
        if self.n_iter_no_change != np.inf:  # inf: never stop on the counter (scikit-learn)
            check_positive_int(self.n_iter_no_change, "n_iter_no_change")
        rates = self.dropout
        if isinstance(rates, numbers.Real):
            rates = [rates] * n_hidden
        rates = list(rates)
        if len(rates) != n_hidden:
            raise ValueError(f"dropout lists {len(rates)} rates for {n_hidden} hidden layers.")
        for rate in rates:
            _number(rate, "dropout rate", low=0, high=1, high_open=True)
        return np.asarray(rates, dtype=np.float64)

    def hyperparameters(self, lr, dtype):
        """The float64 vector the kernels read (codes.HP_* slots)."""
        hp = np.zeros(codes.N_HP)
        hp[codes.HP_LR] = lr
        hp[codes.HP_MOMENTUM] = self.momentum
        hp[codes.HP_NESTEROV] = float(self.nesterovs_momentum)
        hp[codes.HP_BETA_1] = self.beta_1
        hp[codes.HP_BETA_2] = self.beta_2
        hp[codes.HP_EPSILON] = self.epsilon
        hp[codes.HP_WEIGHT_DECAY] = self.weight_decay
        hp[codes.HP_RHO] = self.rho
        hp[codes.HP_ALPHA] = self.alpha
        hp[codes.HP_L1] = self.l1
        hp[codes.HP_MAX_NORM] = self.max_grad_norm or 0.0
        hp[codes.HP_LOSS_SCALE] = self.loss_scale
        hp[codes.HP_CLIP_EPS] = np.finfo(dtype).eps
        return hp

    def scheduled_rate(self, epoch, samples_seen):
        """The rate for epoch ``epoch`` (0-based) of the epoch-driven schedules."""
        lr0 = self.learning_rate_init
        schedule = self.learning_rate
        if schedule == "invscaling":
            return lr0 / (samples_seen + 1) ** self.power_t
        if schedule == "step":
            return lr0 * self.lr_gamma ** (epoch // self.lr_step_size)
        if schedule == "exponential":
            return lr0 * self.lr_gamma**epoch
        if schedule == "cosine":
            horizon = self.lr_horizon or self.max_iter
            progress = min(epoch, horizon) / horizon
            return self.lr_min + 0.5 * (lr0 - self.lr_min) * (1 + math.cos(math.pi * progress))
        return lr0


class Optimizer:
    """Optimizer state in the parameters' layout, the update count and the current rate.

    A new one starts every fit; ``partial_fit`` keeps it (scikit-learn's semantics).
    """

    def __init__(self, net, config):
        solver = check_option(config.solver, SOLVERS, "solver")
        two_moments = solver in ("adam", "adamw")
        self.state = cpu.OptState(
            codes.SOLVERS[solver],
            np.zeros_like(net.params),
            np.zeros_like(net.params) if two_moments else np.zeros(0, dtype=net.dtype),
            np.zeros(1, dtype=np.int64),
        )
        self.learning_rate = config.learning_rate_init
        self.epochs = 0


@dataclass
class History:
    """Per-epoch diagnostics, one array per quantity (see ``Network.fit``)."""

    loss: list = field(default_factory=list)
    validation_score: list = field(default_factory=list)
    learning_rate: list = field(default_factory=list)
    grad_norm: list = field(default_factory=list)
    layer_grad_norms: list = field(default_factory=list)
    dead_fraction: list = field(default_factory=list)
    update_ratio: list = field(default_factory=list)

    def __getattribute__(self, name):
        value = object.__getattribute__(self, name)
        if isinstance(value, list) and not name.startswith("_"):
            return np.asarray(value, dtype=np.float64)
        return value

    def _append(self, **row):
        for key, value in row.items():
            object.__getattribute__(self, key).append(value)

    def __len__(self):
        return len(object.__getattribute__(self, "loss"))


@dataclass
class Progress:
    """Stopping bookkeeping that persists across fits until the network is re-initialised."""

    samples_seen: int = 0
    best_loss: float = np.inf
    best_score: float = -np.inf
    no_improvement_count: int = 0
    best_params: np.ndarray | None = None
    history: History = field(default_factory=History)


class EpochBuffers:
    """Everything one compiled epoch writes into, allocated once per fit for the largest batch."""

    def __init__(self, net, rows, dropout, diagnostics):
        self.grad = np.empty_like(net.params)
        self.batch = cpu.Batch(
            np.empty((rows, net.layer_sizes[0]), dtype=net.dtype),
            np.empty((rows, net.layer_sizes[-1]), dtype=net.dtype),
            np.empty(rows, dtype=net.dtype),
        )
        self.workspace = net._workspace(rows, dropout)
        self.diag = cpu.Diagnostics(
            diagnostics,
            np.zeros(sum(net.layer_sizes[1:-1]), dtype=net.dtype),
            np.zeros(net.n_layers),
            np.zeros(N_STATS),
        )

    def reset(self):
        self.diag.peak[:] = 0.0
        self.diag.layer_grad_norms[:] = 0.0
        self.diag.stats[:] = 0.0


def run_epochs(
    net, X, Y, sample_weight, config, optimizer, progress, rng, *, validation_score=None,
    incremental=False, verbose=False, warn=True, progress_bar=False,
):
    """Train ``net`` in place for up to ``config.max_iter`` epochs; return the epochs run.

    ``X``, ``Y`` and ``sample_weight`` are already validated and in ``net.dtype``.
    ``validation_score`` (a callable of no argument, higher is better) switches the
    stopping rule from the training loss to early stopping with best weights restored.
    ``rng`` is a ``RandomState``: it draws the shuffles (scikit-learn's order) and, only
    when dropout is on, the seed of each epoch's masks. Ctrl-C stops training between
    epochs with a warning, as in scikit-learn. ``progress_bar`` draws a one-line bar on stderr.
    """
    dropout = config.validate(len(net.layer_sizes) - 2)
    epoch = _EpochRunner(net, X, Y, sample_weight, config, optimizer, dropout, rng)
    bar = _ProgressBar(config.max_iter) if progress_bar else None
    epochs = 0
    interrupt = _HeldInterrupt()
    try:
        while epochs < config.max_iter:
            interrupt.raise_held()
            loss, previous = epoch.run()
            epochs += 1
            optimizer.epochs += 1
            progress.samples_seen += X.shape[0]
            _record(net, progress.history, epoch.buffers.diag, loss, optimizer.learning_rate,
                    previous)
            if verbose:
                print(f"Iteration {epochs}, loss = {loss:.8f}")
            if bar is not None:
                bar.update(epochs, loss)
            if _should_stop(net, config, optimizer, progress, loss, validation_score, verbose):
                break
            if incremental:
                break
            if warn and epochs == config.max_iter:
                warnings.warn(
                    f"Stochastic Optimizer: Maximum iterations ({config.max_iter}) reached "
                    "and the optimization hasn't converged yet.",
                    ConvergenceWarning,
                )
        interrupt.raise_held()
    except KeyboardInterrupt:
        warnings.warn("Training interrupted by user.")
    finally:
        interrupt.release()
        if bar is not None:
            bar.close()
    if validation_score is not None and progress.best_params is not None:
        net.params[:] = progress.best_params
    return epochs


class _HeldInterrupt:
    """Holds Ctrl-C back while an epoch runs and is recorded; ``raise_held`` raises it.

    Python delivers a KeyboardInterrupt wherever it next checks for signals after the
    compiled epoch returns, possibly halfway through the bookkeeping, which left the
    weights one epoch ahead of the history. Only the main thread receives signals, and
    only Python's own handler is replaced (and put back by ``release``).
    """

    def __init__(self):
        self.held = False
        self.active = (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        )
        if self.active:
            signal.signal(signal.SIGINT, self._hold)

    def _hold(self, signum, frame):
        self.held = True

    def raise_held(self):
        if self.held:
            self.held = False
            raise KeyboardInterrupt

    def release(self):
        if self.active:
            signal.signal(signal.SIGINT, signal.default_int_handler)


class _ProgressBar:
    """``[#######.............]  35/100 epochs  loss 0.123456``, redrawn in place on stderr."""

    WIDTH = 30

    def __init__(self, total, stream=None):
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.start = time.perf_counter()

    def update(self, done, loss):
        filled = int(self.WIDTH * done / self.total)
        elapsed = time.perf_counter() - self.start
        self.stream.write(
            f"\r[{'#' * filled}{'.' * (self.WIDTH - filled)}] {done:>{len(str(self.total))}}"
            f"/{self.total} epochs  loss {loss:.6f}  {elapsed:.1f} s"
        )
        self.stream.flush()

    def close(self):
        self.stream.write("\n")
        self.stream.flush()


class _EpochRunner:
    """One compiled epoch at a time over fixed data, with its buffers and sample order."""

    def __init__(self, net, X, Y, sample_weight, config, optimizer, dropout, rng):
        self.net, self.X, self.Y, self.config = net, X, Y, config
        self.optimizer, self.rng = optimizer, rng
        self.batch_size = min(config.batch_size, X.shape[0])
        self.hp = config.hyperparameters(optimizer.learning_rate, net.dtype)
        self.buffers = EpochBuffers(net, self.batch_size, dropout, config.diagnostics)
        self.model = net._model()
        self.dropout_on = bool(np.any(dropout > 0))
        self.sw = kernel_weights(sample_weight, net.dtype)
        self.order = np.arange(X.shape[0], dtype=np.int64)

    def run(self):
        """Shuffle, train one epoch; return its loss and the parameters before it.

        A non-finite loss or parameter restores those parameters and raises.
        """
        if self.config.shuffle:
            self.order = _shuffled(self.order, self.rng)
        seed = self.rng.randint(np.iinfo(np.int32).max) if self.dropout_on else 0
        params = self.net.params
        previous = params.copy()
        self.hp[codes.HP_LR] = self.optimizer.learning_rate
        self.buffers.reset()
        run_kernel(
            cpu.train_epoch, self.model, self.buffers.grad, self.optimizer.state, self.hp,
            self.X, self.Y, self.sw, self.order, self.batch_size, seed, self.buffers.batch,
            self.buffers.workspace, self.buffers.diag,
        )
        stats = self.buffers.diag.stats
        if stats[STAT_DIVERGED] or not np.all(np.isfinite(params)):
            params[:] = previous
            raise DivergenceError(
                f"Training diverged in epoch {self.optimizer.epochs + 1}: the loss or the "
                f"weights became non-finite (learning rate {self.optimizer.learning_rate:g})."
                " The weights of the last finite epoch were kept; try a smaller "
                "learning_rate_init, gradient clipping (max_grad_norm) or scaling the inputs."
            )
        return stats[STAT_LOSS] / self.X.shape[0], previous


def _shuffled(order, rng):
    """``sklearn.utils.shuffle(order, random_state=rng)``: the same draws and result.

    scikit-learn's MLP shuffles the index array that way every epoch; its validation
    layers cost ~0.4 ms a call, 13 % of a 4096-sample epoch at batch 16, so the two
    operations it performs are done here directly (tests replay against the original).
    """
    permutation = np.arange(order.size)
    rng.shuffle(permutation)
    return order[permutation]


def _should_stop(net, config, optimizer, progress, loss, validation_score, verbose):
    """End-of-epoch bookkeeping: validation, stopping counter, learning-rate schedule."""
    score = None
    if validation_score is not None:
        score = validation_score()
        progress.history._append(validation_score=score)
        if verbose:
            print(f"Validation score: {score:f}")
    _update_no_improvement(progress, net, loss, score, config.tol)
    _end_of_epoch_rate(optimizer, config, progress.samples_seen)
    if progress.no_improvement_count > config.n_iter_no_change:
        if _trigger_stopping(optimizer, config, validation_score is not None, verbose):
            return True
        progress.no_improvement_count = 0
    return False


def _record(net, history, diag, loss, lr, previous):
    if not diag.enabled:
        history._append(loss=loss, learning_rate=lr)
        return
    batches = max(diag.stats[STAT_BATCHES], 1.0)
    history._append(
        loss=loss,
        learning_rate=lr,
        grad_norm=diag.stats[STAT_GRAD_NORM] / batches,
        layer_grad_norms=diag.layer_grad_norms / batches,
        dead_fraction=_dead_fractions(net, diag.peak > 0),
        update_ratio=_update_ratios(net, previous),
    )


def _dead_fractions(net, active):
    """Fraction of each hidden layer's units that never fired (relu family; NaN otherwise)."""
    fractions, offset = [], 0
    for name, width in zip(net.hidden_activations, net.layer_sizes[1:-1]):
        fired = active[offset : offset + width]
        fractions.append(1.0 - fired.mean() if name in ("relu", "leaky_relu") else np.nan)
        offset += width
    return np.asarray(fractions)


def _update_ratios(net, previous):
    """||W_after - W_before|| / ||W_after|| per layer over the epoch."""
    before, _ = net.unpack(previous)
    return np.asarray([
        np.linalg.norm(after - old) / max(np.linalg.norm(after), np.finfo(np.float64).tiny)
        for after, old in zip(net.coefs, before)
    ])


def _update_no_improvement(progress, net, loss, score, tol):
    """scikit-learn's counter: an epoch that fails to improve on the best by tol counts."""
    if score is not None:
        progress.no_improvement_count = (
            progress.no_improvement_count + 1 if score < progress.best_score + tol else 0
        )
        if score > progress.best_score:
            progress.best_score = score
            progress.best_params = net.params.copy()
    else:
        progress.no_improvement_count = (
            progress.no_improvement_count + 1 if loss > progress.best_loss - tol else 0
        )
        progress.best_loss = min(progress.best_loss, loss)


def _end_of_epoch_rate(optimizer, config, samples_seen):
    if config.learning_rate not in ("constant", "adaptive"):
        optimizer.learning_rate = config.scheduled_rate(optimizer.epochs, samples_seen)


def _trigger_stopping(optimizer, config, early_stopping, verbose):
    what = "Validation score" if early_stopping else "Training loss"
    msg = (
        f"{what} did not improve more than tol={config.tol:f} for "
        f"{config.n_iter_no_change} consecutive epochs."
    )
    if config.learning_rate != "adaptive":
        if verbose:
            print(msg + " Stopping.")
        return True
    if optimizer.learning_rate <= ADAPTIVE_MIN_LR:
        if verbose:
            print(msg + " Learning rate too small. Stopping.")
        return True
    optimizer.learning_rate /= 5.0
    if verbose:
        print(msg + f" Setting learning rate to {optimizer.learning_rate:f}")
    return False
