"""The lower-level ``Network``: parameters in one flat buffer, compiled forward and gradient."""

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state

from . import _validation as v
from . import backend, training
from .kernels import codes, layout

INITS = ("glorot_uniform", "glorot_normal", "he_uniform", "he_normal")
DTYPES = ("float32", "float64")
# Which output activations each loss accepts: the loss must be defined on the output's range.
LOSS_OUTPUTS = {
    "squared_error": ("identity", "logistic", "softmax", "exp"),
    "log_loss": ("softmax", "logistic"),
    "binary_log_loss": ("logistic", "softmax"),
    "poisson": ("exp", "logistic", "softmax"),
}


class Network:
    """A multilayer perceptron whose parameters live in one contiguous array.

    Parameters
    ----------
    layer_sizes : sequence of int
        Units per layer, input first and output last, e.g. ``[784, 128, 10]``.
    activation : str or sequence of str, default="relu"
        Hidden activation, one name for every hidden layer or one per hidden layer:
        identity, logistic, tanh, relu, leaky_relu, elu.
    output_activation : {"identity", "logistic", "softmax", "exp"}, default="identity"
    loss : {"squared_error", "log_loss", "binary_log_loss", "poisson"}, default="squared_error"
        ``log_loss`` with a logistic output is ``binary_log_loss``, as in scikit-learn.
    dtype : {"float32", "float64"}, default="float64"
    init : {"glorot_uniform", "glorot_normal", "he_uniform", "he_normal"}, default="glorot_uniform"
        ``glorot_uniform`` is scikit-learn's: weights and intercepts drawn from
        U(-b, b), ``b = sqrt(f / (fan_in + fan_out))`` with f = 2 for logistic layers, 6
        otherwise, layer by layer, weights before intercepts. The other schemes draw weights
        only and start intercepts at zero.
    random_state : int, RandomState or None
    leaky_slope : float, default=0.01
        Negative-side slope of leaky_relu.
    elu_alpha : float, default=1.0
        Saturation value of elu.
    device : {"cpu", "cuda"}, default="cpu"
        Where the kernels run. ``"cuda"`` runs them on an NVIDIA GPU (needs the
        ``fastmlp[cuda]`` extra); ``params`` stays a host array either way, copied to the
        GPU per call and per training epoch. Change it with :meth:`to`.

    Attributes
    ----------
    params : ndarray of shape (n_params,)
        All weights (layer by layer, row-major) then all intercepts.
    coefs : list of ndarray of shape (fan_in, fan_out)
        Views into ``params``.
    intercepts : list of ndarray of shape (fan_out,)
        Views into ``params``.
    layout : fastmlp.kernels.layout.Layout
        The layer table and buffer sizes the kernels read.
    """

    def __init__(
        self,
        layer_sizes,
        activation="relu",
        output_activation="identity",
        loss="squared_error",
        dtype="float64",
        init="glorot_uniform",
        random_state=None,
        leaky_slope=0.01,
        elu_alpha=1.0,
        device="cpu",
    ):
        self.layer_sizes = _check_layer_sizes(layer_sizes)
        n_hidden = len(self.layer_sizes) - 2
        if isinstance(activation, str):
            activation = [activation] * n_hidden if n_hidden else [activation]
        if not isinstance(activation, (list, tuple)):
            raise TypeError(
                f"activation must be a name or a list of names, got {activation!r}."
            )
        activation = list(activation)
        if len(activation) != max(n_hidden, 1):
            raise ValueError(
                f"activation lists {len(activation)} names for {n_hidden} hidden layers."
            )
        for name in activation:
            v.check_option(name, codes.HIDDEN_ACTIVATIONS, "hidden activation")
        self.activation = activation[:n_hidden] if n_hidden else activation
        self.output_activation = v.check_option(
            output_activation, codes.OUTPUT_ACTIVATIONS, "output activation"
        )
        v.check_option(loss, LOSS_OUTPUTS, "loss")
        if loss == "log_loss" and output_activation == "logistic":
            loss = "binary_log_loss"
        if output_activation not in LOSS_OUTPUTS[loss]:
            raise ValueError(
                f"loss {loss!r} is not defined on the range of a {output_activation!r} output; "
                f"use one of {LOSS_OUTPUTS[loss]}."
            )
        if output_activation == "softmax" and self.layer_sizes[-1] < 2:
            raise ValueError("a softmax over one output is constantly 1: use 'logistic'.")
        self.loss = loss
        self.dtype = _check_dtype(dtype)
        self.init = v.check_option(init, INITS, "init")
        self.leaky_slope = v.check_number(leaky_slope, "leaky_slope")
        self.elu_alpha = v.check_number(elu_alpha, "elu_alpha")
        if not (self.leaky_slope > 0 and self.elu_alpha > 0):
            raise ValueError("leaky_slope and elu_alpha must be positive.")

        backend.target(device)  # an unknown or unavailable device fails here
        self.device = device
        names = self.hidden_activations + [self.output_activation]
        self.layout = layout.lay_out(self.layer_sizes, [codes.ACTIVATIONS[a] for a in names])
        backend.check_device(self, device)
        self._act_params = np.asarray([self.activation_param(a) or 0.0 for a in names])
        self._loss_code = codes.LOSSES[self.loss]
        self.params = np.zeros(self.n_params, dtype=self.dtype)
        self.coefs, self.intercepts = self.unpack(self.params)
        self.initialize(random_state)

    # ---- structure ---------------------------------------------------------------------
    @property
    def hidden_activations(self):
        """Activation name of each hidden layer."""
        return list(self.activation) if len(self.layer_sizes) > 2 else []

    def activation_param(self, name):
        """The parameter of activation ``name`` in this network (slope or alpha), or None."""
        return {"leaky_relu": self.leaky_slope, "elu": self.elu_alpha}.get(name)

    @property
    def n_layers(self):
        """Number of weight layers (len(layer_sizes) - 1)."""
        return len(self.layer_sizes) - 1

    @property
    def n_weights(self):
        """Number of weights: the regularised prefix of ``params``."""
        return self.layout.n_weights

    @property
    def n_params(self):
        return self.layout.n_params

    def unpack(self, flat):
        """Per-layer (fan_in, fan_out) and (fan_out,) views of a flat buffer in params' layout.

        The offsets come from the layer table, the one place that lays the buffer out for
        the kernels too.
        """
        coefs, intercepts = [], []
        for row in self.layout.table.tolist():
            fan_in, fan_out = row[layout.FAN_IN], row[layout.FAN_OUT]
            w, b = row[layout.W_START], row[layout.B_START]
            coefs.append(flat[w : w + fan_in * fan_out].reshape(fan_in, fan_out))
            intercepts.append(flat[b : b + fan_out])
        return coefs, intercepts

    def initialize(self, random_state=None):
        """Draw fresh parameters in place (the views stay valid)."""
        rng = check_random_state(random_state)
        for l, (W, b) in enumerate(zip(self.coefs, self.intercepts)):
            fan_in, fan_out = W.shape
            layer_act = self._init_activation(l)
            if self.init == "glorot_uniform":
                factor = 2.0 if layer_act == "logistic" else 6.0
                bound = np.sqrt(factor / (fan_in + fan_out))
                W[...] = rng.uniform(-bound, bound, (fan_in, fan_out))
                b[...] = rng.uniform(-bound, bound, fan_out)
                continue
            if self.init == "glorot_normal":
                W[...] = rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), (fan_in, fan_out))
            elif self.init == "he_uniform":
                bound = np.sqrt(6.0 / fan_in)
                W[...] = rng.uniform(-bound, bound, (fan_in, fan_out))
            else:  # he_normal
                W[...] = rng.normal(0.0, np.sqrt(2.0 / fan_in), (fan_in, fan_out))
            b[...] = 0.0
        return self

    def _init_activation(self, layer):
        # scikit-learn scales every layer, the output layer included, by the hidden
        # activation; with one per layer, a layer uses its own (the output, the last hidden).
        acts = self.activation
        return acts[min(layer, len(acts) - 1)]

    def to(self, device):
        """Run this network's kernels on ``device`` ("cpu" or "cuda"); return self.

        The parameters are unchanged (they are a host array on every device).
        """
        backend.check_device(self, device)
        self.device = device
        return self

    # ---- computation --------------------------------------------------------------------
    def _check_X(self, X):
        return v.check_matrix(X, "X", self.dtype, self.layer_sizes[0])

    def forward(self, X, chunk_size=4096):
        """Outputs after the output activation, shape (n_samples, n_outputs).

        Rows are processed ``chunk_size`` at a time, bounding the workspace's memory.
        """
        chunk_size = v.check_positive_int(chunk_size, "chunk_size")
        if not (v.is_ready(X, self.dtype) and X.shape[1] == self.layer_sizes[0]):
            X = self._check_X(X)
        out = self._predict(X, chunk_size)
        if out is None:
            self._check_X(np.array(X))  # names the NaN or infinity the kernel found
            raise ValueError("X contains NaN or infinity.")
        return out

    def _predict(self, X, chunk_size=4096):
        """``forward`` of an array that passed ``is_ready`` with the right column count;
        None when it holds a NaN or infinity."""
        out, status = backend.predict(self, X, chunk_size)
        if status == layout.PREDICT_OVERFLOW:
            v.check_finite_result("forward", out)
        return None if status == layout.PREDICT_BAD_INPUT else out

    def loss_and_grad(self, X, Y, sample_weight=None, alpha=0.0, *, l1=0.0, loss_scale=1.0):
        """Mean loss over the (weighted) samples plus regularisers, and its flat gradient.

        ``Y`` is 2-D: one column per output (one-hot rows for softmax outputs).
        ``loss_scale`` multiplies the reported data loss only (the gradient stays that of
        the unscaled loss), which is how scikit-learn reports multi-output squared error.
        """
        X, Y, sw = self._check_data(X, Y, sample_weight)
        alpha = _check_penalty(alpha, "alpha")
        loss_scale = v.check_number(loss_scale, "loss_scale", low=0, low_open=True)
        loss, grad = self._loss_and_grad(X, Y, sw, alpha, _check_penalty(l1, "l1"), loss_scale)
        v.check_finite_result("loss_and_grad", loss, grad)
        return loss, grad

    def _loss_and_grad(self, X, Y, sw, alpha, l1=0.0, loss_scale=1.0, grad=None):
        """loss_and_grad on data already checked (C-contiguous, in ``self.dtype``)."""
        hp = layout.hyperparameters(self.dtype, alpha=alpha, l1=l1, loss_scale=loss_scale)
        return backend.loss_and_grad(self, X, Y, sw, hp, grad)

    def fit(
        self, X, Y, *, sample_weight=None, solver="adam", learning_rate_init=0.001,
        batch_size=200, max_iter=200, shuffle=True, random_state=None, alpha=0.0,
        early_stopping=False, validation_fraction=0.1, verbose=False, progress_bar=False,
        **options,
    ):
        """Train in place with minibatch gradient methods; return the :class:`History`.

        Each epoch (shuffle, gather minibatches, forward, loss, backward, regularisers,
        optimizer update) is one compiled call. Parameters shared with scikit-learn's
        MLP keep their names and meaning; ``options`` are the other fields of
        :class:`fastmlp.training.TrainConfig` (learning_rate schedule, momentum,
        nesterovs_momentum, beta_1, beta_2, epsilon, weight_decay, rho, l1, dropout,
        max_grad_norm, tol, n_iter_no_change, lr_gamma, lr_step_size, lr_horizon, lr_min,
        power_t, diagnostics).

        With ``early_stopping`` a ``validation_fraction`` of the data is held out, the
        score is minus the validation loss, and the best weights are restored at the end.
        A non-finite loss or weight raises :class:`fastmlp.training.DivergenceError` and
        leaves the weights of the last finite epoch in place. ``verbose`` prints
        scikit-learn's "Iteration k, loss = ..." lines; ``progress_bar`` draws a progress
        bar on stderr.
        """
        X, Y, sw = self._check_data(X, Y, sample_weight)
        config = training.TrainConfig(
            solver=solver, learning_rate_init=learning_rate_init, batch_size=batch_size,
            max_iter=max_iter, shuffle=shuffle, alpha=alpha, **options,
        )
        config.validate(len(self.layer_sizes) - 2)
        rng = check_random_state(random_state)
        validation_score = None
        if early_stopping:
            v.check_number(validation_fraction, "validation_fraction", 0, 1, True, True)
            X, Y, sw, validation_score = self._hold_out(X, Y, sw, validation_fraction, rng)
        progress = training.Progress()
        training.run_epochs(
            self, X, Y, sw, config, training.Optimizer(self, config), progress, rng,
            validation_score=validation_score, verbose=verbose, warn=False,
            progress_bar=progress_bar,
        )
        return progress.history

    def _hold_out(self, X, Y, sw, fraction, rng):
        n_val = int(np.ceil(fraction * X.shape[0]))
        if n_val < 1 or n_val >= X.shape[0]:
            raise ValueError(
                f"validation_fraction={fraction} of {X.shape[0]} samples leaves no sample "
                "for validation or for training."
            )
        arrays = (X, Y) if sw is None else (X, Y, sw)
        parts = train_test_split(*arrays, test_size=fraction, random_state=rng)
        X_train, X_val, Y_train, Y_val = (np.ascontiguousarray(a) for a in parts[:4])
        sw_train, sw_val = (parts[4], parts[5]) if sw is not None else (None, None)

        def score():
            return -self._loss_and_grad(X_val, Y_val, sw_val, 0.0)[0]  # NaN when it overflows

        return X_train, Y_train, sw_train, score

    def _check_data(self, X, Y, sample_weight):
        X = self._check_X(X)
        Y = v.check_matrix(Y, "Y", self.dtype, self.layer_sizes[-1], "outputs")
        if Y.shape[0] != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but Y has {Y.shape[0]}.")
        self._check_target_range(Y)
        return X, Y, v.check_sample_weight(sample_weight, X.shape[0], self.dtype)

    def _check_target_range(self, Y):
        if self.loss == "poisson" and np.any(Y < 0):
            raise ValueError("poisson loss needs non-negative targets Y.")
        if self.loss in ("log_loss", "binary_log_loss") and (np.any(Y < 0) or np.any(Y > 1)):
            raise ValueError(f"{self.loss} needs targets Y in [0, 1].")
        if self.loss == "log_loss" and self.output_activation == "softmax":
            # The fused delta (output - Y) is the gradient only for rows that sum to 1.
            tolerance = 1e3 * np.finfo(self.dtype).eps * Y.shape[1]
            if np.any(np.abs(Y.sum(axis=1) - 1) > tolerance):
                raise ValueError(
                    "log_loss with a softmax output needs each row of Y to sum to 1 "
                    "(one-hot labels or class probabilities)."
                )

    def __getstate__(self):
        # coefs/intercepts are views into params: pickle the buffer once, rebuild the views.
        # Saved models record no device: a GPU-trained network loads onto the CPU.
        state = dict(self.__dict__)
        del state["coefs"], state["intercepts"], state["device"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.device = "cpu"
        # A writeable, plain buffer (joblib may hand back a read-only memmap).
        self.params = np.array(self.params, dtype=self.dtype, order="C")
        self.coefs, self.intercepts = self.unpack(self.params)

    def __repr__(self):
        return (
            f"Network(layer_sizes={list(self.layer_sizes)}, activation={self.activation}, "
            f"output_activation={self.output_activation!r}, loss={self.loss!r}, "
            f"dtype={self.dtype.name!r}, device={self.device!r})"
        )

    # ---- interop (the logic lives in fastmlp.interop) -----------------------------------
    def to_torch(self):
        """A ``torch.nn.Sequential`` computing :meth:`forward` (see fastmlp.interop)."""
        from .interop import network_to_torch

        return network_to_torch(self)

    @classmethod
    def from_torch(cls, seq, loss=None, dtype=None):
        """A Network with the weights of a ``torch.nn.Sequential`` (see fastmlp.interop)."""
        from .interop import network_from_torch

        return network_from_torch(seq, loss, dtype)


def _check_dtype(dtype):
    if dtype is None:
        raise ValueError("dtype must be 'float32' or 'float64', got None.")
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = str(dtype)
    return np.dtype(v.check_option(name, DTYPES, "dtype"))


def _check_layer_sizes(layer_sizes):
    if isinstance(layer_sizes, (str, bytes)) or not hasattr(layer_sizes, "__iter__"):
        raise TypeError(f"layer_sizes must be a sequence of integers, got {layer_sizes!r}.")
    if any(isinstance(s, (bool, np.bool_)) for s in layer_sizes):
        raise TypeError(f"layer_sizes must hold integers, not booleans: {layer_sizes!r}.")
    try:
        sizes = [int(s) for s in layer_sizes]
    except (TypeError, ValueError):
        raise TypeError(f"layer_sizes must be a sequence of integers, got {layer_sizes!r}.")
    if len(sizes) < 2:
        raise ValueError(f"layer_sizes needs at least an input and an output size, got {sizes}.")
    if any(s < 1 for s in sizes) or any(s != float(x) for s, x in zip(sizes, layer_sizes)):
        raise ValueError(f"layer_sizes must hold positive integers, got {list(layer_sizes)}.")
    return tuple(sizes)


def _check_penalty(value, name):
    return v.check_number(value, name, low=0)
