"""Drop-in replacements for scikit-learn's ``MLPClassifier`` and ``MLPRegressor``.

The estimators keep scikit-learn's parameters, defaults, validation, fitted attributes and
random draws (initial weights, validation split, per-epoch shuffles, in that order), so a
fit with the same ``random_state`` reproduces scikit-learn's numbers, while every epoch of
the stochastic solvers runs as one compiled call (:func:`fastmlp.training.run_epochs`) and
L-BFGS evaluates the compiled loss and gradient over the network's flat parameters.

Parameters beyond scikit-learn's come after them, are keyword-only, and are off by default.
"""

import copy
import dataclasses
import warnings
from contextlib import contextmanager
from dataclasses import fields
from numbers import Integral, Real

import numpy as np
import scipy.optimize
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    RegressorMixin,
    _fit_context,
    is_classifier,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import assert_all_finite, column_or_1d
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.fixes import _get_additional_lbfgs_options_dict
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    type_of_target,
    unique_labels,
)
from sklearn.utils.optimize import _check_optimize_result
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from . import backend, persistence, training
from ._validation import NonFiniteResultError, check_random_state
from .kernels import codes
from .network import INITS, Network

STOCHASTIC_SOLVERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad")
SOLVERS = ("lbfgs",) + STOCHASTIC_SOLVERS
HIDDEN_ACTIVATIONS = tuple(codes.HIDDEN_ACTIVATIONS)
# TrainConfig's fields that are estimator parameters of the same name and meaning.
TRAINING_PARAMS = tuple(
    f.name
    for f in fields(training.TrainConfig)
    if f.name not in ("solver", "batch_size", "loss_scale")
)

NON_FINITE_MESSAGE = (
    "Solver produced non-finite parameter weights. The input data may contain large "
    "values and need to be preprocessed."
)


@contextmanager
def _thread_limits(n_threads):
    """BLAS threads set to ``n_threads`` while inside; None: as is.

    (The kernels are serial apart from their BLAS calls: Numba's own thread count would
    change nothing.)
    """
    if n_threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=int(n_threads), user_api="blas"):
        yield


def _plain_array(a, dtype=None):
    """A writeable, C-contiguous base-class ndarray (what the compiled kernels are typed for).

    Read-only arrays and memmaps would make Numba compile another specialisation.
    """
    if sp.issparse(a):
        a = a.toarray()
    a = np.ascontiguousarray(a, dtype=dtype)
    if type(a) is not np.ndarray or not a.flags.writeable:
        a = np.array(a, dtype=dtype, order="C")
    return a


def _plain_tree(value):
    """``value`` with every ndarray in it (also inside namedtuples) a writeable plain array."""
    if isinstance(value, np.ndarray):
        return _plain_array(value)
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(_plain_tree(v) for v in value))
    return value


def _plain_arrays_in(obj):
    """Make every array held by ``obj``'s attributes writeable and plain (after unpickling).

    joblib can unpickle arrays as read-only memmaps, which the kernels are not typed for.
    """
    for key, value in list(vars(obj).items()):
        setattr(obj, key, _plain_tree(value))


class BaseMultilayerPerceptron(BaseEstimator):
    """Shared machinery of :class:`MLPClassifier` and :class:`MLPRegressor`.

    Not meant to be used directly.
    """

    # The training settings' constraints are training.CONSTRAINTS' (one place for each);
    # the rest are the estimators' own.
    _parameter_constraints: dict = {
        **{name: training.CONSTRAINTS[name] for name in TRAINING_PARAMS},
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(HIDDEN_ACTIVATIONS)), list, tuple],
        "solver": [StrOptions(set(SOLVERS))],
        "batch_size": [StrOptions({"auto"}), *training.CONSTRAINTS["batch_size"]],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "init": [StrOptions(set(INITS))],
        "n_threads": [Interval(Integral, 1, None, closed="left"), None],
        "batch_norm": ["boolean", list, tuple],
        "batch_norm_momentum": [Interval(Real, 0, 1, closed="right")],
        "batch_norm_epsilon": [Interval(Real, 0, None, closed="neither")],
        "progress_bar": ["boolean"],
        "device": [StrOptions({"cpu", "cuda"})],
    }

    def _set_init_params(self, params):
        for name, value in params.items():
            if name not in ("self", "__class__"):
                setattr(self, name, value)

    # ---- fitted parameters: views into the network's flat buffer --------------------------
    @property
    def coefs_(self):
        """list of ndarray of shape (fan_in, fan_out): weight matrix of each layer.

        Views into the network's flat parameter buffer. Assigning a list of arrays of the
        same shapes to ``coefs_`` copies them into the network. Before the first fit, as in
        scikit-learn, the list assigned is kept as it is, and a ``partial_fit`` or
        ``warm_start`` fit starts from it (with ``intercepts_``, assigned the same way).
        """
        return self._parameters("coefs")

    @coefs_.setter
    def coefs_(self, value):
        self._set_parameters("coefs", value)

    @property
    def intercepts_(self):
        """list of ndarray of shape (fan_out,): bias vector of each layer (views)."""
        return self._parameters("intercepts")

    @intercepts_.setter
    def intercepts_(self, value):
        self._set_parameters("intercepts", value)

    def _parameters(self, kind):
        if self.__dict__.get("_net") is None and f"_assigned_{kind}" in self.__dict__:
            return self.__dict__[f"_assigned_{kind}"]
        return list(getattr(self._fitted_net(), kind))

    def _set_parameters(self, kind, value):
        net = self.__dict__.get("_net")
        if net is None:
            self.__dict__[f"_assigned_{kind}"] = value  # the list itself: items may change
        else:
            self._assign_parameters(getattr(net, kind), value, f"{kind}_")

    def _assigned_parameters(self):
        """(coefs, intercepts) assigned before the first fit, or None."""
        if self.__dict__.get("_net") is not None:
            return None
        coefs = self.__dict__.get("_assigned_coefs")
        intercepts = self.__dict__.get("_assigned_intercepts")
        if coefs is None and intercepts is None:
            return None
        if coefs is None or intercepts is None:
            raise ValueError(
                "Only one of coefs_ and intercepts_ was assigned before the first fit; a "
                "partial_fit or warm_start fit that starts from given weights needs both."
            )
        coefs = [np.asarray(c, dtype=np.float64) for c in coefs]
        if not coefs or any(c.ndim != 2 for c in coefs):
            raise ValueError("coefs_ must be a list of 2-D arrays of shape (fan_in, fan_out).")
        return coefs, [np.asarray(b, dtype=np.float64) for b in intercepts]

    def _fitted_net(self):
        net = self.__dict__.get("_net")
        if net is None:
            raise AttributeError(
                f"This {type(self).__name__} instance is not fitted yet: it has no network."
            )
        return net

    @staticmethod
    def _assign_parameters(views, values, name):
        values = list(values)
        shapes = [v.shape for v in views]
        if [np.shape(v) for v in values] != shapes:
            raise ValueError(
                f"{name} must be a list of arrays of shapes {shapes}, got "
                f"{[np.shape(v) for v in values]}."
            )
        for view, value in zip(views, values):
            view[...] = value

    # ---- pickling: coefs_ stay views of the network's buffer ------------------------------
    # (Network pickles its buffer once and rebuilds its views itself.)
    def __getstate__(self):
        state = super().__getstate__()
        optimizer = state.get("_optimizer")
        if optimizer is not None:  # a GPU's optimizer state pickles as host arrays
            optimizer = copy.copy(optimizer)
            optimizer.state = backend.optimizer_state_on(optimizer.state, "cpu")
            state["_optimizer"] = optimizer
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        for name in ("_optimizer", "_progress"):  # (best_params is a _progress attribute)
            obj = self.__dict__.get(name)
            if obj is not None:
                _plain_arrays_in(obj)

    # ---- fitting -------------------------------------------------------------------------
    def _hidden_layer_sizes(self):
        sizes = self.hidden_layer_sizes
        if not hasattr(sizes, "__iter__"):
            sizes = [sizes]
        sizes = list(sizes)
        if not all(isinstance(s, Integral) and not isinstance(s, bool) for s in sizes):
            raise ValueError(f"hidden_layer_sizes must hold integers, got {sizes}.")
        if np.any(np.array(sizes) <= 0):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
        return sizes

    def _hidden_activations(self, n_hidden):
        """One name (used for every layer, scikit-learn's case) or the validated list."""
        if isinstance(self.activation, str):
            return self.activation
        names = list(self.activation)
        bad = [a for a in names if not isinstance(a, str) or a not in HIDDEN_ACTIVATIONS]
        if bad:
            raise ValueError(
                f"activation lists unknown names {bad}; expected names from "
                f"{sorted(HIDDEN_ACTIVATIONS)}."
            )
        if len(names) != n_hidden:
            raise ValueError(
                f"activation lists {len(names)} names for {n_hidden} hidden layers; give one "
                "name per hidden layer, or a single name for all of them."
            )
        if n_hidden == 0:
            return "relu"  # no hidden layer: only the initialisation scale would use it
        return names

    def _loss_scale(self, n_outputs):
        # scikit-learn reports squared error averaged over outputs, its gradient is not.
        if not is_classifier(self) and self.loss == "squared_error":
            return 1.0 / n_outputs
        return 1.0

    def _fit(self, X, y, sample_weight=None, incremental=False):
        hidden = self._hidden_layer_sizes()
        continuing = self.warm_start or incremental
        assigned = self._assigned_parameters() if continuing else None
        first_pass = not continuing or (self.__dict__.get("_net") is None and assigned is None)
        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        if sample_weight is not None:
            # Negative weights would make the minimised loss unbounded below.
            sample_weight = _check_sample_weight(sample_weight, X, ensure_non_negative=True)
        if y.ndim == 1:
            y = y.reshape((-1, 1))
        activations = self._hidden_activations(len(hidden))
        self._check_targets(y)
        # Settings the engine checks (dropout per layer, lr_min <= learning_rate_init...)
        # fail here, before a first fit creates a network; lbfgs ignores the minibatch ones.
        dropout = self._train_config(
            1, y.shape[1], "adam" if self.solver == "lbfgs" else None
        ).validate(len(hidden))

        n_features = X.shape[1]
        layer_units = [n_features] + hidden + [y.shape[1]]
        kept_units = None
        if assigned is not None:
            kept_units = [c.shape[0] for c in assigned[0]] + [assigned[0][-1].shape[1]]
        elif not first_pass:
            kept_units = list(self._net.layer_sizes)
        if kept_units is not None and kept_units != layer_units:
            raise ValueError(
                f"warm_start and partial_fit keep the network of the previous fit (or the "
                f"assigned coefs_), with layer sizes {kept_units}, but this call needs "
                f"{layer_units} "
                "(hidden_layer_sizes or the number of outputs changed). Set "
                "warm_start=False or fit a new estimator."
            )
        self.n_outputs_ = y.shape[1]
        self._random_state = check_random_state(self.random_state)

        if first_pass:
            self._initialize(layer_units, activations, X.dtype)
        elif assigned is not None:
            # scikit-learn draws no initial weights here: a throwaway stream keeps its
            # draws (shuffles, validation split) in step.
            self._initialize(layer_units, activations, X.dtype, np.random.RandomState(0))
            self._assign_parameters(self._net.coefs, assigned[0], "coefs_")
            self._assign_parameters(self._net.intercepts, assigned[1], "intercepts_")
        if self._net.device != self.device:
            self._net.to(self.device)

        dtype = self._net.dtype
        X = _plain_array(X, dtype)
        Y = _plain_array(y, dtype)
        sw = None if sample_weight is None else _plain_array(sample_weight, dtype)
        with _thread_limits(self.n_threads):
            if self.solver == "lbfgs":
                self._fit_lbfgs(X, Y, sw)
            else:
                self._fit_stochastic(X, Y, y, sw, incremental, dropout)

        if not np.all(np.isfinite(self._net.params)):
            raise ValueError(NON_FINITE_MESSAGE)
        return self

    def _check_targets(self, y):
        """Hook for target checks beyond scikit-learn's (the regressor's poisson range)."""

    def _initialize(self, layer_units, activations, dtype, random_state=None):
        self.__dict__.pop("_assigned_coefs", None)
        self.__dict__.pop("_assigned_intercepts", None)
        self.n_iter_ = 0
        self.t_ = 0
        self.n_layers_ = len(layer_units)
        if not is_classifier(self):
            self.out_activation_ = "exp" if self.loss == "poisson" else "identity"
        elif self._label_binarizer.y_type_ == "multiclass":
            self.out_activation_ = "softmax"
        else:  # binary and multilabel
            self.out_activation_ = "logistic"
        # Draws the weights from self._random_state exactly as scikit-learn's _init_coef.
        self._net = Network(
            layer_units,
            activation=activations,
            output_activation=self.out_activation_,
            loss="log_loss" if is_classifier(self) else self.loss,
            dtype=np.dtype(dtype).name,
            init=self.init,
            random_state=self._random_state if random_state is None else random_state,
            batch_norm=self.batch_norm,
            batch_norm_momentum=self.batch_norm_momentum,
            batch_norm_epsilon=self.batch_norm_epsilon,
            device=self.device,
        )
        self._progress = training.Progress()
        self._optimizer = None
        self._optimizer_solver = None
        for name in ("loss_curve_", "best_loss_", "validation_scores_", "best_validation_score_"):
            self.__dict__.pop(name, None)
        if self.solver in STOCHASTIC_SOLVERS:
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    def _train_config(self, batch_size, n_outputs, solver=None):
        settings = {name: getattr(self, name) for name in TRAINING_PARAMS}
        if not isinstance(self.dropout, Real):
            settings["dropout"] = tuple(float(r) for r in self.dropout)
        if self.solver == "adam":  # scikit-learn's adam ignores the schedule
            settings["learning_rate"] = "constant"
        return training.TrainConfig(
            **settings,
            solver=solver or self.solver,
            batch_size=int(batch_size),
            loss_scale=self._loss_scale(n_outputs),
        )

    def _fit_stochastic(self, X, Y, y, sample_weight, incremental, dropout):
        """Minibatch training; ``dropout``: the rates ``_fit`` validated with the settings
        (the engine's check of them all, ~80 us, then runs once a call, not twice)."""
        net = self._net
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        early_stopping = self.early_stopping
        validation_score = None
        if early_stopping:
            train_idx, val_idx = self._validation_split(X.shape[0], y)
            if val_idx.shape[0] < 2:
                raise ValueError(
                    "The validation set is too small. Increase 'validation_fraction' "
                    "or the size of your dataset."
                )
            X_val = X[val_idx]
            y_val = y[val_idx]
            if is_classifier(self):
                y_val = self._label_binarizer.inverse_transform(y_val)
            sw_val = None if sample_weight is None else sample_weight[val_idx]
            X, Y = X[train_idx], Y[train_idx]
            sample_weight = None if sample_weight is None else sample_weight[train_idx]

            def validation_score():
                return self._score_with_function(X_val, y_val, sw_val)

        n_samples = X.shape[0]
        if self.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if self.batch_size > n_samples:
                warnings.warn(
                    "Got `batch_size` less than 1 or larger than "
                    "sample size. It is going to be clipped"
                )
            batch_size = np.clip(self.batch_size, 1, n_samples)
        config = self._train_config(batch_size, self.n_outputs_)

        if not incremental or self._optimizer is None or self._optimizer_solver != self.solver:
            self._optimizer = training.Optimizer(net, config)
            self._optimizer_solver = self.solver
        self._optimizer.state = backend.optimizer_state_on(self._optimizer.state, net.device)

        progress = self._progress
        epochs_before = len(progress.history)
        try:
            training.run_epochs(
                net,
                X,
                Y,
                sample_weight,
                config,
                self._optimizer,
                progress,
                self._random_state,
                validation_score=validation_score,
                incremental=incremental,
                dropout=dropout,
                verbose=bool(self.verbose),
                warn=True,
                progress_bar=self.progress_bar,
            )
        except training.DivergenceError as exc:
            epoch = len(progress.history) - epochs_before + 1
            self._diverged(exc, epoch, X.shape[0], early_stopping)
        finally:
            self._record_progress(len(progress.history) - epochs_before, early_stopping)

    def _validation_split(self, n_samples, y):
        """scikit-learn's early-stopping split, drawn from the same stream after the weights.

        Splitting indices draws exactly what splitting the arrays would. Stratified for a
        single-output classifier, over the binarized labels, so scikit-learn's error names
        the labels True/False: the original labels are added to its message.
        """
        should_stratify = is_classifier(self) and self.n_outputs_ == 1
        try:
            return train_test_split(
                np.arange(n_samples),
                random_state=self._random_state,
                test_size=self.validation_fraction,
                stratify=y if should_stratify else None,
            )
        except ValueError as exc:
            rare = self._rare_classes(y) if should_stratify else []
            if not rare:
                raise
            raise ValueError(
                f"{exc} (early_stopping=True holds out a stratified validation set, which "
                f"needs at least 2 samples of every class; class(es) {rare} have only 1. "
                "Add samples of those classes or set early_stopping=False.)"
            ) from exc

    def _rare_classes(self, y):
        labels, counts = np.unique(self._label_binarizer.inverse_transform(y), return_counts=True)
        return labels[counts < 2].tolist()

    def _diverged(self, exc, epoch, n_samples, early_stopping):
        """scikit-learn's outcome of a fit whose loss or weights became non-finite.

        The epoch that diverged is recorded with a NaN loss (and a NaN validation score),
        as scikit-learn records it. With early stopping the fit ends with a
        ``ConvergenceWarning`` and the best weights, as scikit-learn's does; without it,
        scikit-learn raises its ``ValueError``, and so does this (a ``DivergenceError``),
        with the weights of the last finite epoch in place instead of NaN. scikit-learn
        trains on through NaN epochs to ``max_iter``; this stops at the first one.
        """
        progress = self._progress
        history = progress.history
        history._append(**self._nan_epoch(history))
        progress.samples_seen += n_samples
        learning_rate = self._optimizer.learning_rate
        # The optimizer's moments may hold NaN: the next partial_fit starts a fresh one.
        self._optimizer = None
        if self.verbose:
            print(f"Iteration {epoch}, loss = nan")
        if not early_stopping:
            raise training.DivergenceError(f"{NON_FINITE_MESSAGE} {exc}") from exc
        history._append(validation_score=np.nan)
        if self.verbose:
            print("Validation score: nan")
        if progress.best_params is not None:
            self._net.params[:] = progress.best_params
            self._net.state[:] = progress.best_state
        warnings.warn(
            f"Training diverged in epoch {epoch}: the loss or the weights became non-finite "
            f"(learning rate {learning_rate:g}). Training stopped; the weights of the best "
            "validation score were kept. Try a smaller learning_rate_init, gradient clipping "
            "(max_grad_norm) or scaling the inputs.",
            ConvergenceWarning,
        )

    def _nan_epoch(self, history):
        """A history row of NaN (the learning rate excepted) for each quantity recorded."""
        net = self._net
        widths = {
            "layer_grad_norms": net.n_layers,
            "update_ratio": net.n_layers,
            "dead_fraction": len(net.layer_sizes) - 2,
        }
        row = {}
        for field in dataclasses.fields(history):
            name = field.name
            if name != "validation_score" and len(getattr(history, name)) == len(history):
                row[name] = np.full(widths[name], np.nan) if name in widths else np.nan
        row["learning_rate"] = self._optimizer.learning_rate
        return row

    def _record_progress(self, n_iter, early_stopping):
        progress = self._progress
        history = progress.history
        self.n_iter_ = n_iter
        self.t_ = progress.samples_seen
        self.history_ = history
        self._no_improvement_count = progress.no_improvement_count
        self.loss_curve_ = [float(v) for v in history.loss]
        if self.loss_curve_:
            self.loss_ = self.loss_curve_[-1]
        if early_stopping:
            self.validation_scores_ = [float(v) for v in history.validation_score]
            self.best_validation_score_ = float(progress.best_score)
            self.best_loss_ = None
        else:
            self.best_loss_ = float(progress.best_loss)
            self.validation_scores_ = None
            self.best_validation_score_ = None

    def _fit_lbfgs(self, X, Y, sample_weight):
        net = self._net
        if net.has_batch_norm:
            net._check_batch_rows(X.shape[0], "fit")
        alpha, l1, loss_scale = float(self.alpha), float(self.l1), self._loss_scale(self.n_outputs_)
        # Its own record (loss per L-BFGS iteration): the epochs' history stays epochs only.
        history = training.History()

        def loss_and_grad(packed):
            net.params[:] = packed
            loss, grad = net._loss_and_grad(X, Y, sample_weight, alpha, l1, loss_scale)
            return loss, grad.astype(np.float64, copy=False)

        def record(intermediate_result):
            history._append(loss=float(intermediate_result.fun))

        iprint = 1 if self.verbose is True or self.verbose >= 1 else -1
        result = scipy.optimize.minimize(
            loss_and_grad,
            net.params.astype(np.float64),
            method="L-BFGS-B",
            jac=True,
            callback=record,
            options={
                "maxfun": self.max_fun,
                "maxiter": self.max_iter,
                "gtol": self.tol,
                **_get_additional_lbfgs_options_dict("iprint", iprint),
            },
        )
        self.n_iter_ = _check_optimize_result("lbfgs", result, self.max_iter)
        self.loss_ = float(result.fun)
        net.params[:] = result.x
        if net.has_batch_norm:  # L-BFGS trains on the whole set's statistics: so does inference
            net.calibrate_batch_norm(X)
        self.history_ = history

    # ---- prediction ----------------------------------------------------------------------
    def _forward_pass_fast(self, X, check_input=True):
        """Network outputs after the output activation, shape (n_samples, n_outputs).

        Plain input (a C-contiguous 2-D ndarray of the network's dtype with the fitted
        feature count, for a model fitted without feature names) skips scikit-learn's
        validation, which costs ~50 us a call: the compiled pass checks finiteness itself
        and any NaN or infinity sends the call through the full validation, which names it.
        """
        net = self._net
        if self.n_threads is not None:
            with _thread_limits(self.n_threads):
                return self._outputs(net, X, check_input)
        return self._outputs(net, X, check_input)

    def _outputs(self, net, X, check_input):
        if not check_input:
            return net.forward(_plain_array(X, net.dtype))
        if "feature_names_in_" not in self.__dict__:  # else validate_data checks the names
            out = net._predict(X)
            if out is not None:
                return out
        X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False)
        return net.forward(_plain_array(X, net.dtype))

    def _check_fitted(self):
        if "_net" not in self.__dict__:  # the cheap test first: predicting is latency-bound
            check_is_fitted(self)

    def _score_with_function(self, X, y, sample_weight):
        """Validation score without input checks (NaN when the predictions are not finite)."""
        try:
            y_pred = self._predict(X, check_input=False)
        except NonFiniteResultError:
            return np.nan
        if np.issubdtype(y_pred.dtype, np.floating) and not np.isfinite(y_pred).all():
            return np.nan
        return self._score_function(y, y_pred, sample_weight=sample_weight)

    def _check_solver(self):
        if self.solver not in STOCHASTIC_SOLVERS:
            raise AttributeError(
                "partial_fit is only available for stochastic"
                f" optimizers. {self.solver} is not stochastic."
            )
        return True

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to data matrix X and target(s) y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data. Sparse input is densified (the kernels are dense).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The target values (class labels in classification, real numbers in
            regression).
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        if type(X).__module__.startswith("dask"):  # Dask arrays: distributed L-BFGS
            from .dask import fit as fit_dask

            return fit_dask(self, X, y, sample_weight)
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    # ---- saving and loading: the estimator's state as arrays and JSON values ---------------
    # fastmlp.persistence owns the file format (and checks the file's integrity); these
    # methods own what is stored and check that it makes a consistent estimator.
    _FITTED_VALUES = (
        "n_layers_",
        "n_outputs_",
        "out_activation_",
        "n_iter_",
        "t_",
        "loss_",
        "best_loss_",
        "best_validation_score_",
        "loss_curve_",
        "validation_scores_",
        "n_features_in_",
        "_no_improvement_count",
        "_optimizer_solver",
    )

    def save(self, path):
        """Write the fitted estimator to ``path``; same as :func:`fastmlp.save`.

        A NumPy ``.npz`` archive of arrays, JSON metadata and a checksum, no pickle;
        written to a temporary file in the same directory and then renamed into place.
        Read it back with :func:`fastmlp.load`.
        """
        persistence.save(self, path)

    def _to_state(self):
        """(arrays, state): the fitted estimator as named arrays and JSON-ready values."""
        check_is_fitted(self)
        net = self._net
        params = self.get_params(deep=False)
        params.pop("device", None)  # saved models record no device: they load on the CPU
        if isinstance(params.get("random_state"), np.random.RandomState):
            params["random_state"] = None  # a generator is not stored; None when loaded
        arrays = {"params": net.params, "batch_norm_state": net.state}
        state = {
            "params": params,
            "network": {
                "layer_sizes": [int(s) for s in net.layer_sizes],
                "activation": list(net.activation),
                "output_activation": net.output_activation,
                "loss": net.loss,
                "dtype": net.dtype.name,
                "init": net.init,
                "leaky_slope": net.leaky_slope,
                "elu_alpha": net.elu_alpha,
                "batch_norm": [bool(b) for b in net.batch_norm],
                "batch_norm_momentum": net.batch_norm_momentum,
                "batch_norm_epsilon": net.batch_norm_epsilon,
            },
            "fitted": {n: getattr(self, n) for n in self._FITTED_VALUES if hasattr(self, n)},
            "has_history": hasattr(self, "history_"),
        }
        if hasattr(self, "feature_names_in_"):
            arrays["feature_names_in"] = self._string_array(
                self.feature_names_in_, "feature_names_in_"
            )
        lb = getattr(self, "_label_binarizer", None)
        if lb is not None:
            classes = np.asarray(lb.classes_)
            state["label_binarizer"] = {
                "neg_label": int(lb.neg_label),
                "pos_label": int(lb.pos_label),
                "sparse_output": bool(lb.sparse_output),
                "y_type_": lb.y_type_,
                "sparse_input_": bool(lb.sparse_input_),
                "classes_dtype": "object" if classes.dtype == object else classes.dtype.str,
            }
            arrays["classes"] = (
                self._string_array(classes, "classes_") if classes.dtype == object else classes
            )
        optimizer = getattr(self, "_optimizer", None)
        if optimizer is not None:
            state["optimizer"] = {
                "learning_rate": float(optimizer.learning_rate),
                "epochs": int(optimizer.epochs),
            }
            saved = copy.copy(optimizer)  # a GPU's optimizer state is saved from host copies
            saved.state = backend.optimizer_state_on(optimizer.state, "cpu")
            for name, array in self._optimizer_arrays(saved).items():
                arrays[f"optimizer_{name}"] = array
        progress = self._progress
        state["progress"] = {
            "samples_seen": int(progress.samples_seen),
            "best_loss": float(progress.best_loss),
            "best_score": float(progress.best_score),
            "no_improvement_count": int(progress.no_improvement_count),
        }
        if progress.best_params is not None:
            arrays["progress_best_params"] = progress.best_params
            arrays["progress_best_state"] = progress.best_state
        # history_ is the epochs' history (stochastic solvers) or an L-BFGS record of its own.
        history = getattr(self, "history_", None)
        state["history_is_progress"] = history is progress.history
        arrays.update(self._history_arrays(progress.history, "progress_history_"))
        if history is not None and history is not progress.history:
            arrays.update(self._history_arrays(history, "history_"))
        return arrays, state

    @classmethod
    def _from_state(cls, arrays, state):
        """The estimator that :meth:`_to_state` described; ValueError if inconsistent."""
        est = cls(**state["params"])
        est._validate_params()
        spec = state["network"]
        net = Network(
            spec["layer_sizes"],
            activation=spec["activation"],
            output_activation=spec["output_activation"],
            loss=spec["loss"],
            dtype=spec["dtype"],
            init=spec["init"],
            random_state=0,
            leaky_slope=spec["leaky_slope"],
            elu_alpha=spec["elu_alpha"],
            batch_norm=spec.get("batch_norm", False),
            batch_norm_momentum=spec.get("batch_norm_momentum", 0.1),
            batch_norm_epsilon=spec.get("batch_norm_epsilon", 1e-5),
        )
        net.params[:] = cls._matching(arrays["params"], net.params, "params")
        if "batch_norm_state" in arrays:  # files written before batch norm have none
            net.state[:] = cls._matching(arrays["batch_norm_state"], net.state, "state")
        est._net = net
        for name, value in state["fitted"].items():
            if name not in cls._FITTED_VALUES:
                raise ValueError(f"unknown fitted attribute {name!r}")
            setattr(est, name, value)
        est._check_state_shapes()
        if "feature_names_in" in arrays:
            est.feature_names_in_ = arrays["feature_names_in"].astype(object)
        if "label_binarizer" in state:
            est._label_binarizer = cls._label_binarizer_from(
                state["label_binarizer"], arrays["classes"]
            )
            est.classes_ = est._label_binarizer.classes_
            est._check_classes()
        est._optimizer = None
        if "optimizer" in state:
            solver = state["fitted"].get("_optimizer_solver") or est.solver
            optimizer = training.Optimizer(net, training.TrainConfig(solver=solver))
            for name, array in cls._optimizer_arrays(optimizer).items():
                array[...] = cls._matching(arrays[f"optimizer_{name}"], array, name)
            optimizer.learning_rate = float(state["optimizer"]["learning_rate"])
            optimizer.epochs = int(state["optimizer"]["epochs"])
            est._optimizer = optimizer
        spec = state["progress"]
        history = cls._history_from(arrays, "progress_history_")
        best = arrays.get("progress_best_params")
        est._progress = training.Progress(
            samples_seen=int(spec["samples_seen"]),
            best_loss=float(spec["best_loss"]),
            best_score=float(spec["best_score"]),
            no_improvement_count=int(spec["no_improvement_count"]),
            best_params=None if best is None else cls._matching(best, net.params, "best"),
            best_state=(
                None
                if best is None
                else cls._matching(
                    arrays.get("progress_best_state", net.state), net.state, "best_state"
                )
            ),
            history=history,
        )
        if state["history_is_progress"]:
            est.history_ = history
        elif state["has_history"]:
            est.history_ = cls._history_from(arrays, "history_")
        return est

    def _check_state_shapes(self):
        sizes = self._net.layer_sizes
        expected = {
            "n_layers_": len(sizes),
            "n_outputs_": sizes[-1],
            "n_features_in_": sizes[0],
        }
        for name, value in expected.items():
            if getattr(self, name, value) != value:
                raise ValueError(
                    f"{name} is {getattr(self, name)!r} for a network of layer sizes {list(sizes)}"
                )

    def _check_classes(self):
        lb = self._label_binarizer
        n_classes = len(lb.classes_)
        outputs = 1 if lb.y_type_ == "binary" else n_classes
        if (lb.y_type_ == "binary" and n_classes > 2) or outputs != self._net.layer_sizes[-1]:
            raise ValueError(
                f"{n_classes} classes ({lb.y_type_}) for a network of "
                f"{self._net.layer_sizes[-1]} outputs"
            )

    @staticmethod
    def _label_binarizer_from(spec, labels):
        lb = LabelBinarizer(
            neg_label=spec["neg_label"],
            pos_label=spec["pos_label"],
            sparse_output=spec["sparse_output"],
        )
        if labels.ndim != 1:
            raise ValueError(f"classes of shape {labels.shape}, 1-D expected")
        lb.classes_ = labels.astype(object) if spec["classes_dtype"] == "object" else labels
        lb.y_type_ = spec["y_type_"]
        lb.sparse_input_ = spec["sparse_input_"]
        return lb

    @staticmethod
    def _history_arrays(history, prefix):
        return {
            f"{prefix}{field.name}": np.asarray(getattr(history, field.name), dtype=np.float64)
            for field in dataclasses.fields(training.History)
        }

    @staticmethod
    def _history_from(arrays, prefix):
        history = training.History()
        for field in dataclasses.fields(training.History):
            values = arrays[f"{prefix}{field.name}"]
            if values.ndim not in (1, 2) or values.dtype != np.float64:
                raise ValueError(f"history {field.name} is {values.dtype} {values.shape}")
            rows = [np.array(row) for row in values] if values.ndim == 2 else values.tolist()
            object.__getattribute__(history, field.name).extend(rows)
        return history

    @staticmethod
    def _optimizer_arrays(optimizer):
        """The optimizer's state arrays by name."""
        return {name: getattr(optimizer.state, name) for name in ("state1", "state2", "step")}

    @staticmethod
    def _string_array(values, name):
        values = np.asarray(values)
        if values.dtype.kind == "U":
            return values
        if values.dtype == object and all(isinstance(v, str) for v in values.ravel()):
            return values.astype(str)
        raise ValueError(
            f"Cannot save {name} of dtype {values.dtype} with non-string objects without "
            "pickle; use numeric or string labels."
        )

    @staticmethod
    def _matching(array, like, name):
        if array.shape != like.shape or array.dtype != like.dtype:
            raise ValueError(
                f"{name} is {array.dtype} of shape {array.shape}, the network needs "
                f"{like.dtype} of shape {like.shape}"
            )
        return array

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # ---- interop (the logic lives in fastmlp.interop) -------------------------------------
    def to_sklearn(self):
        """The fitted scikit-learn estimator with these weights (see fastmlp.interop)."""
        from .interop import to_sklearn

        return to_sklearn(self)

    @classmethod
    def from_sklearn(cls, sk_estimator):
        """A fitted estimator with a fitted scikit-learn one's weights (see fastmlp.interop)."""
        from .interop import from_sklearn

        return from_sklearn(cls, sk_estimator)

    def to_torch(self):
        """A ``torch.nn.Sequential`` computing the network's outputs (see fastmlp.interop)."""
        from .interop import network_to_torch

        return network_to_torch(self)


_EXTRAS_DOC = """
    l1 : float, default=0.0
        Strength of an L1 penalty on the weights (not the intercepts), scaled like ``alpha``.
        fastmlp extra.
    dropout : float or list of float, default=0.0
        Dropout rate of the hidden layers (one for all or one per hidden layer), inverted
        dropout during stochastic training only. fastmlp extra.
    max_grad_norm : float, default=None
        Clip each minibatch gradient to this global L2 norm. fastmlp extra.
    init : {"glorot_uniform", "glorot_normal", "he_uniform", "he_normal"}, \
default="glorot_uniform"
        Weight initialisation; ``glorot_uniform`` is scikit-learn's. fastmlp extra.
    n_threads : int, default=None
        BLAS threads (threadpoolctl) used while fitting and predicting; None leaves them
        as they are. fastmlp extra.
    weight_decay : float, default=0.01
        Decoupled weight decay of ``solver="adamw"``. fastmlp extra.
    rho : float, default=0.9
        Decay of the squared-gradient average of ``solver="rmsprop"``. fastmlp extra.
    lr_gamma : float, default=0.1
        Factor of the "step" and "exponential" schedules. fastmlp extra.
    lr_step_size : int, default=10
        Epochs between steps of the "step" schedule. fastmlp extra.
    lr_horizon : int, default=None
        Epochs of the "cosine" schedule (None: max_iter). fastmlp extra.
    lr_min : float, default=0.0
        Final rate of the "cosine" schedule. fastmlp extra.
    batch_norm : bool or list of bool, default=False
        Batch normalisation of every hidden layer (True) or of those marked True: dense ->
        batch norm -> activation; predictions use the running statistics, folded into the
        weights (see :class:`fastmlp.Network`). Needs minibatches of at least 2 rows.
        fastmlp extra.
    batch_norm_momentum : float, default=0.1
        Weight of each minibatch in the running statistics (PyTorch's convention).
        fastmlp extra.
    batch_norm_epsilon : float, default=1e-5
        Added to the variance before its square root. fastmlp extra.
    progress_bar : bool, default=False
        Draw a one-line progress bar on stderr, redrawn each epoch of the stochastic
        solvers: epoch, loss, validation score (with early stopping), samples per second
        and the time left if training runs to ``max_iter``. fastmlp extra.
    diagnostics : bool, default=False
        Also record per-epoch training diagnostics in ``history_`` (mean gradient norms,
        overall and per layer; the fraction of dead relu units; update ratios). Opt-in:
        they cost 4-11% of the training time at small batches; without them ``history_``
        keeps the loss, the validation score and the learning rate. fastmlp extra.
    device : {"cpu", "cuda"}, default="cpu"
        Where the network's kernels run; "cuda" needs an NVIDIA GPU and the
        ``fastmlp[cuda]`` extra. The fitted parameters are host arrays either way, and a
        model fitted on a GPU predicts anywhere. fastmlp extra.
"""

_COMMON_DOC = """
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        The ith element is the number of neurons in the ith hidden layer.
    activation : str or list of str, default="relu"
        Hidden activation: identity, logistic, tanh, relu (scikit-learn's) or the fastmlp
        extras leaky_relu, elu and prelu (one learned slope per unit); a list gives one per
        hidden layer.
    solver : {"lbfgs", "sgd", "adam", "adamw", "rmsprop", "adagrad"}, default="adam"
        scikit-learn's three, plus the fastmlp extras adamw, rmsprop and adagrad.
    alpha : float, default=0.0001
        Strength of the L2 penalty (divided by the sample size when added to the loss).
    batch_size : int or "auto", default="auto"
        Minibatch size of the stochastic solvers; "auto" is ``min(200, n_samples)``.
    learning_rate : {"constant", "invscaling", "adaptive", "step", "exponential", \
"cosine"}, default="constant"
        Schedule of the stochastic solvers other than adam (which, as in scikit-learn,
        ignores it). step, exponential and cosine are fastmlp extras.
    learning_rate_init : float, default=0.001
    power_t : float, default=0.5
    max_iter : int, default=200
        Epochs for the stochastic solvers, iterations for lbfgs.
    shuffle : bool, default=True
    random_state : int, RandomState instance or None, default=None
        Initial weights, validation split and shuffles, drawn in scikit-learn's order.
    tol : float, default=1e-4
    verbose : bool, default=False
    warm_start : bool, default=False
    momentum : float, default=0.9
    nesterovs_momentum : bool, default=True
    early_stopping : bool, default=False
    validation_fraction : float, default=0.1
    beta_1 : float, default=0.9
    beta_2 : float, default=0.999
    epsilon : float, default=1e-8
    n_iter_no_change : int, default=10
    max_fun : int, default=15000
"""

_ATTRIBUTES_DOC = """
    Attributes
    ----------
    loss_ : float
    best_loss_ : float or None
    loss_curve_ : list of float
    validation_scores_ : list of float or None
    best_validation_score_ : float or None
    t_ : int
    coefs_ : list of ndarray of shape (fan_in, fan_out)
        Views into the network's flat parameter buffer.
    intercepts_ : list of ndarray of shape (fan_out,)
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
    n_iter_ : int
    n_layers_ : int
    n_outputs_ : int
    out_activation_ : str
    history_ : fastmlp.training.History
        Per-epoch loss, validation score and learning rate, and with ``diagnostics=True``
        gradient norms, dead units and update ratios; fastmlp extra.
"""


def _binarized(binarizer, y, every_class=False):
    """``binarizer.transform(y)`` as bools, computed directly for integer labels of a binary
    or multiclass target: the binarizer's checks cost ~2 ms a call, the whole of a small
    ``partial_fit``'s time. None where y needs the general path: other label types, a label
    outside ``classes_`` or, with ``every_class``, a class missing (it raises there)."""
    classes = binarizer.classes_
    plain = y.ndim == 1 and y.dtype.kind in "iu" and classes.dtype.kind in "iu"
    if not plain or binarizer.y_type_ not in ("binary", "multiclass") or len(classes) < 2:
        return None
    index = np.minimum(np.searchsorted(classes, y), len(classes) - 1)
    if not np.array_equal(classes[index], y):
        return None
    if every_class and np.count_nonzero(np.bincount(index, minlength=len(classes))) < len(classes):
        return None
    if len(classes) == 2:
        return (index == 1)[:, np.newaxis]
    binarized = np.zeros((y.size, len(classes)), dtype=bool)
    binarized[np.arange(y.size), index] = True
    return binarized


@persistence.register
class MLPClassifier(ClassifierMixin, BaseMultilayerPerceptron):
    __doc__ = (
        """Multi-layer perceptron classifier: scikit-learn's ``MLPClassifier``, compiled.

    Same parameters, attributes and (with the same ``random_state``) the same numbers as
    :class:`sklearn.neural_network.MLPClassifier`; the keyword-only parameters after
    ``max_fun`` are fastmlp extras, off by default.

    Parameters
    ----------"""
        + _COMMON_DOC
        + _EXTRAS_DOC
        + _ATTRIBUTES_DOC
        + """    classes_ : ndarray or list of ndarray of shape (n_classes,)
    """
    )

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        l1=0.0,
        dropout=0.0,
        max_grad_norm=None,
        init="glorot_uniform",
        n_threads=None,
        weight_decay=0.01,
        rho=0.9,
        lr_gamma=0.1,
        lr_step_size=10,
        lr_horizon=None,
        lr_min=0.0,
        batch_norm=False,
        batch_norm_momentum=0.1,
        batch_norm_epsilon=1e-5,
        progress_bar=False,
        diagnostics=False,
        device="cpu",
    ):
        self._set_init_params(locals())

    @staticmethod
    def _score_function(y_true, y_pred, sample_weight=None):
        return accuracy_score(y_true, y_pred, sample_weight=sample_weight)

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        # classes_ are (re)defined by a fresh fit; warm_start and partial_fit check them.
        fresh = not hasattr(self, "classes_") or (not self.warm_start and not incremental)
        if fresh:
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        binarized = _binarized(self._label_binarizer, y, every_class=self.warm_start and not fresh)
        if binarized is not None:
            return X, binarized
        if not fresh:  # the checks, and their messages, for what the fast path refused
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same "
                        "classes as in the previous call to fit. Previously "
                        f"got {self.classes_}, `y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    "`y` has classes not in `self.classes_`. "
                    f"`self.classes_` has {self.classes_}. 'y' has {classes}."
                )
        # bool keeps float32 input float32 (the kernels get the network's dtype anyway)
        y = self._label_binarizer.transform(y).astype(bool)
        return X, y

    def predict(self, X):
        """Predict class labels (or label indicators, for multilabel targets).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        self._check_fitted()
        return self._predict(X)

    def _predict(self, X, check_input=True):
        return self._labels(self._forward_pass_fast(X, check_input=check_input))

    def _labels(self, y_pred):
        """``LabelBinarizer.inverse_transform`` of the outputs, computed directly for the
        common targets (the binarizer's own checks cost more than a one-row prediction)."""
        lb = self._label_binarizer
        if lb.y_type_ == "multiclass":
            return lb.classes_.take(y_pred.argmax(axis=1), mode="clip")
        if lb.y_type_ == "binary" and len(lb.classes_) == 2:
            # the binarizer's threshold: (pos_label + neg_label) / 2
            threshold = (lb.pos_label + lb.neg_label) / 2.0
            return lb.classes_[(y_pred.ravel() > threshold).astype(int)]
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        return lb.inverse_transform(y_pred)

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Update the model with one epoch over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
        classes : array of shape (n_classes,), default=None
            Every class of all calls; required on the first call.

        Returns
        -------
        self : object
        """
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict_log_proba(self, X):
        """Log of :meth:`predict_proba`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        log_y_prob : ndarray of shape (n_samples, n_classes)
        """
        y_prob = self.predict_proba(X)
        return np.log(y_prob, out=y_prob)

    def predict_proba(self, X):
        """Probability of each class, columns ordered as ``classes_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y_prob : ndarray of shape (n_samples, n_classes)
        """
        self._check_fitted()
        y_pred = self._forward_pass_fast(X)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        if y_pred.ndim == 1:
            return np.vstack([1 - y_pred, y_pred]).T
        return y_pred

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


@persistence.register
class MLPRegressor(RegressorMixin, BaseMultilayerPerceptron):
    __doc__ = (
        """Multi-layer perceptron regressor: scikit-learn's ``MLPRegressor``, compiled.

    Same parameters, attributes and (with the same ``random_state``) the same numbers as
    :class:`sklearn.neural_network.MLPRegressor`; the keyword-only parameters after
    ``max_fun`` are fastmlp extras, off by default.

    Parameters
    ----------
    loss : {"squared_error", "poisson"}, default="squared_error"
        Half squared error (reported averaged over outputs, as scikit-learn) or half
        Poisson deviance with an exponential output (needs ``y >= 0``)."""
        + _COMMON_DOC
        + _EXTRAS_DOC
        + _ATTRIBUTES_DOC
    )

    _parameter_constraints: dict = {
        **BaseMultilayerPerceptron._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson"})],
    }

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        l1=0.0,
        dropout=0.0,
        max_grad_norm=None,
        init="glorot_uniform",
        n_threads=None,
        weight_decay=0.01,
        rho=0.9,
        lr_gamma=0.1,
        lr_step_size=10,
        lr_horizon=None,
        lr_min=0.0,
        batch_norm=False,
        batch_norm_momentum=0.1,
        batch_norm_epsilon=1e-5,
        progress_bar=False,
        diagnostics=False,
        device="cpu",
    ):
        self._set_init_params(locals())

    @staticmethod
    def _score_function(y_true, y_pred, sample_weight=None):
        return r2_score(y_true, y_pred, sample_weight=sample_weight)

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            y_numeric=True,
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        # An object y is checked for NaN before y_numeric converts it (None becomes NaN).
        assert_all_finite(y, input_name="y")
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y

    def _check_targets(self, y):
        # scikit-learn would train on to a NaN loss; fail clearly instead.
        if self.loss == "poisson" and np.any(y < 0):
            raise ValueError(
                "Some value(s) of y are negative which is not allowed for Poisson "
                "regression (loss='poisson')."
            )

    def predict(self, X):
        """Predict using the multi-layer perceptron model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        self._check_fitted()
        return self._predict(X)

    def _predict(self, X, check_input=True):
        y_pred = self._forward_pass_fast(X, check_input=check_input)
        if y_pred.shape[1] == 1:
            return y_pred.ravel()
        return y_pred

    # As in scikit-learn, the regressor's partial_fit is available for every solver (with
    # lbfgs it continues the L-BFGS optimisation from the current weights).
    @available_if(lambda est: est._check_solver)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Update the model with one epoch over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)
