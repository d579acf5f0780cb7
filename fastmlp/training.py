"""The training loop around the compiled epoch: schedules, stopping, history, safety.

Per epoch, Python only shuffles the sample order (one call into the random stream, so
runs follow scikit-learn's draws), calls the compiled epoch through the backend seam, and
does O(parameters) bookkeeping. Everything per minibatch happens inside the compiled
``train_epoch`` of the network's target. Where the parameters live during a fit (the
host's ``net.params`` on the CPU, a device copy on a GPU) is the backend's
``fit_session``: the loop asks it for the snapshot, the rollback and the update ratios,
and to bring the parameters back before code that reads ``net.params`` runs.
"""

import math
import signal
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field, fields
from numbers import Integral, Real

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import (
    Interval,
    Options,
    StrOptions,
    validate_parameter_constraints,
)

from . import backend
from ._validation import check_number as _number
from ._validation import check_option
from .kernels import codes, layout
from .kernels.layout import STAT_BATCHES, STAT_GRAD_NORM, STAT_LOSS

SOLVERS = tuple(codes.SOLVERS)
SCHEDULES = ("constant", "invscaling", "adaptive", "step", "exponential", "cosine")
ADAPTIVE_MIN_LR = 1e-6

# The allowed values of every training setting, in scikit-learn's constraint language: the
# one place each is declared, read by TrainConfig.validate and by the estimators'
# parameter validation alike.
CONSTRAINTS = {
    "solver": [StrOptions(set(SOLVERS))],
    "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
    "learning_rate": [StrOptions(set(SCHEDULES))],
    "power_t": [Interval(Real, 0, None, closed="left")],
    "lr_gamma": [Interval(Real, 0, 1, closed="right")],
    "lr_step_size": [Interval(Integral, 1, None, closed="left")],
    "lr_horizon": [Interval(Integral, 1, None, closed="left"), None],
    "lr_min": [Interval(Real, 0, None, closed="left")],
    "momentum": [Interval(Real, 0, 1, closed="both")],
    "nesterovs_momentum": ["boolean"],
    "beta_1": [Interval(Real, 0, 1, closed="left")],
    "beta_2": [Interval(Real, 0, 1, closed="left")],
    "epsilon": [Interval(Real, 0, None, closed="neither")],
    "weight_decay": [Interval(Real, 0, None, closed="left")],
    "rho": [Interval(Real, 0, 1, closed="left")],
    "alpha": [Interval(Real, 0, None, closed="left")],
    "l1": [Interval(Real, 0, None, closed="left")],
    "dropout": [Interval(Real, 0, 1, closed="left"), list, tuple],
    "max_grad_norm": [Interval(Real, 0, None, closed="neither"), None],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "shuffle": ["boolean"],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "tol": [Interval(Real, 0, None, closed="left")],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
    "loss_scale": [Interval(Real, 0, None, closed="neither")],
    "diagnostics": ["boolean"],
}


def _is_real(value):
    return isinstance(value, Real) and not isinstance(value, (bool, np.bool_))


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
    diagnostics: bool = False

    def validate(self, n_hidden):
        """Raise ValueError on any out-of-range setting; return the per-layer dropout rates.

        Every setting is checked against :data:`CONSTRAINTS` (the estimators check their
        parameters against the same entries), then the rules that tie settings together.
        """
        settings = {f.name: getattr(self, f.name) for f in fields(self)}
        validate_parameter_constraints(CONSTRAINTS, settings, caller_name="the training")
        for name, value in settings.items():
            if isinstance(value, (bool, np.bool_)) and "boolean" not in CONSTRAINTS[name]:
                raise ValueError(f"{name} must be a number, not a boolean: got {value!r}.")
            if name != "n_iter_no_change" and _is_real(value) and not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}.")
        if self.lr_min > self.learning_rate_init:
            raise ValueError(
                f"lr_min={self.lr_min} exceeds learning_rate_init={self.learning_rate_init}: "
                "the cosine schedule decays from learning_rate_init down to lr_min."
            )
        rates = self.dropout
        if _is_real(rates):
            rates = [rates] * n_hidden
        rates = list(rates)
        if len(rates) != n_hidden:
            raise ValueError(f"dropout lists {len(rates)} rates for {n_hidden} hidden layers.")
        for rate in rates:
            _number(rate, "dropout rate", low=0, high=1, high_open=True)
        return np.asarray(rates, dtype=np.float64)

    def hyperparameters(self, lr, dtype):
        """The float64 vector the kernels read, with learning rate ``lr``."""
        names = [name for name in layout.HP_SLOTS if name != "learning_rate"]
        return layout.hyperparameters(
            dtype, learning_rate=lr, **{name: getattr(self, name) for name in names}
        )

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
        self.state = backend.optimizer_state(net, check_option(config.solver, SOLVERS, "solver"))
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
    best_state: np.ndarray | None = None  # the running statistics that go with best_params
    history: History = field(default_factory=History)


def run_epochs(
    net,
    X,
    Y,
    sample_weight,
    config,
    optimizer,
    progress,
    rng,
    *,
    validation_score=None,
    incremental=False,
    dropout=None,
    verbose=False,
    warn=True,
    progress_bar=False,
):
    """Train ``net`` in place for up to ``config.max_iter`` epochs; return the epochs run.

    ``X``, ``Y`` and ``sample_weight`` are already validated and in ``net.dtype``.
    ``validation_score`` (a callable of no argument, higher is better) switches the
    stopping rule from the training loss to early stopping with best weights restored.
    ``rng`` is a ``RandomState``: it draws the shuffles (scikit-learn's order) and, only
    when dropout is on, the seed of each epoch's masks. Ctrl-C stops training between
    epochs with a warning, as in scikit-learn. ``progress_bar`` draws a one-line bar on stderr.
    ``dropout``: the per-layer rates from ``config.validate``, where the caller has run it
    already; None validates ``config`` here.
    """
    if dropout is None:
        dropout = config.validate(len(net.layer_sizes) - 2)
    _check_batch_norm_rows(net, config.batch_size, X.shape[0])
    epoch = _EpochRunner(net, X, Y, sample_weight, config, optimizer, dropout, rng)
    bar = _ProgressBar(config.max_iter) if progress_bar else None
    epochs = 0
    interrupt = _HeldInterrupt()
    try:
        epoch.session.open()
        while epochs < config.max_iter:
            interrupt.raise_held()
            loss = epoch.run()
            epochs += 1
            optimizer.epochs += 1
            progress.samples_seen += X.shape[0]
            _record(
                net,
                progress.history,
                epoch.buffers.diag,
                loss,
                optimizer.learning_rate,
                epoch.session,
            )
            if verbose:
                print(f"Iteration {epochs}, loss = {loss:.8f}")
            if validation_score is not None:
                epoch.session.sync()  # the score and the best weights read net.params
            stop = _should_stop(net, config, optimizer, progress, loss, validation_score, verbose)
            if bar is not None:  # after the stopping rule, which records the epoch's score
                score = None if validation_score is None else progress.history.validation_score[-1]
                bar.update(epochs, loss, X.shape[0], score)
            if stop:
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
        epoch.session.close()  # the parameters back into net.params, however the loop ended
        interrupt.release()
        if bar is not None:
            bar.close()
    if validation_score is not None and progress.best_params is not None:
        net.params[:] = progress.best_params
        net.state[:] = progress.best_state
    return epochs


def _check_batch_norm_rows(net, batch_size, n_rows):
    """Batch norm cannot normalise a minibatch of one row: refuse what would need one."""
    if not net.has_batch_norm:
        return
    if n_rows < 2:
        raise ValueError(
            f"Training with batch norm needs at least 2 rows at a time, got {n_rows} "
            "(a minibatch of one row has no variance to normalise by)."
        )
    if batch_size == 1:
        raise ValueError(
            "batch_size=1 cannot be used with batch norm: a minibatch of one row has no "
            "variance to normalise by. Use batch_size >= 2."
        )


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
    """``[####......]  35/100 epochs  loss 0.123456  val 0.9412  5.2e+04 samples/s  ETA 3.1 s``.

    Redrawn in place on stderr after each epoch. ``val`` appears when training holds out
    a validation set; the ETA assumes training runs to ``max_iter`` (early stopping may
    end it sooner).
    """

    WIDTH = 30

    def __init__(self, total, stream=None):
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.start = time.perf_counter()

    def update(self, done, loss, n_samples=None, validation_score=None):
        """Draw the line after epoch ``done`` of ``n_samples`` samples (and its score)."""
        filled = int(self.WIDTH * done / self.total)
        elapsed = time.perf_counter() - self.start
        line = (
            f"\r[{'#' * filled}{'.' * (self.WIDTH - filled)}] {done:>{len(str(self.total))}}"
            f"/{self.total} epochs  loss {loss:.6f}"
        )
        if validation_score is not None:
            line += f"  val {validation_score:.4f}"
        if n_samples is not None and elapsed > 0:
            line += f"  {n_samples * done / elapsed:.3g} samples/s"
        line += f"  ETA {self._duration(elapsed / done * (self.total - done))}"
        self.stream.write(line)
        self.stream.flush()

    def close(self):
        self.stream.write("\n")
        self.stream.flush()

    @staticmethod
    def _duration(seconds):
        """``4.2 s`` under a minute, ``12:05`` under an hour, ``1:02:03`` beyond."""
        if seconds < 60:
            return f"{seconds:.1f} s"
        minutes, secs = divmod(int(round(seconds)), 60)
        hours, minutes = divmod(minutes, 60)
        return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class _EpochRunner:
    """One compiled epoch at a time over fixed data, with its buffers and sample order."""

    def __init__(self, net, X, Y, sample_weight, config, optimizer, dropout, rng):
        self.net, self.X, self.Y, self.config = net, X, Y, config
        self.optimizer, self.rng = optimizer, rng
        self.batch_size = min(config.batch_size, X.shape[0])
        self.hp = config.hyperparameters(optimizer.learning_rate, net.dtype)
        self.buffers = backend.EpochBuffers(
            net, self.batch_size, dropout, config.diagnostics, config.max_grad_norm is not None
        )
        self.dropout_on = bool(np.any(dropout > 0))
        # The data cross to the network's device once per fit (no copy on the CPU).
        self.X, self.Y = backend.to_target(net, X), backend.to_target(net, Y)
        self.sw = backend.to_target(net, backend.kernel_weights(sample_weight, net.dtype))
        self.order = np.arange(X.shape[0], dtype=np.int64)
        # Where the parameters live while this fit runs (opened by run_epochs).
        self.session = backend.fit_session(net)

    def run(self):
        """Shuffle, train one epoch; return its loss. The session keeps the parameters
        from before it (the update ratios compare with them).

        A non-finite loss or parameter restores those parameters and raises.
        """
        if self.config.shuffle:
            self.order = _shuffled(self.order, self.rng)
        seed = self.rng.randint(np.iinfo(np.int32).max) if self.dropout_on else 0
        self.session.snapshot()
        self.hp[layout.HP_LR] = self.optimizer.learning_rate
        backend.train_epoch(
            self.session,
            self.buffers,
            self.optimizer.state,
            self.hp,
            self.X,
            self.Y,
            self.sw,
            self.order,
            self.batch_size,
            seed,
        )
        stats = self.buffers.diag.stats
        if self.session.diverged(stats):
            self.session.restore()
            raise DivergenceError(
                f"Training diverged in epoch {self.optimizer.epochs + 1}: the loss or the "
                f"weights became non-finite (learning rate {self.optimizer.learning_rate:g})."
                " The weights of the last finite epoch were kept; try a smaller "
                "learning_rate_init, gradient clipping (max_grad_norm) or scaling the inputs."
            )
        return stats[STAT_LOSS] / self.X.shape[0]


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


def _record(net, history, diag, loss, lr, session):
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
        update_ratio=session.update_ratios(),
    )


def _dead_fractions(net, active):
    """Fraction of each hidden layer's units that never fired (relu family; NaN otherwise).

    PReLU units are never dead (a learned slope passes gradient on both sides): 0.
    """
    fractions, offset = [], 0
    for name, width in zip(net.hidden_activations, net.layer_sizes[1:-1]):
        if name == "prelu":
            fractions.append(0.0)
        elif name in ("relu", "leaky_relu"):  # count_nonzero: a tenth of a bool mean's time
            fractions.append(1.0 - np.count_nonzero(active[offset : offset + width]) / width)
        else:
            fractions.append(np.nan)
        offset += width
    return np.asarray(fractions)


def _update_no_improvement(progress, net, loss, score, tol):
    """scikit-learn's counter: an epoch that fails to improve on the best by tol counts."""
    if score is not None:
        progress.no_improvement_count = (
            progress.no_improvement_count + 1 if score < progress.best_score + tol else 0
        )
        if score > progress.best_score:
            progress.best_score = score
            progress.best_params = net.params.copy()
            progress.best_state = net.state.copy()
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
