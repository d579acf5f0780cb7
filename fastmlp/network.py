"""The lower-level ``Network``: parameters in one flat buffer, compiled forward and gradient."""

import numpy as np
from sklearn.model_selection import train_test_split

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
        identity, logistic, tanh, relu, leaky_relu, elu, prelu. ``prelu`` is leaky_relu
        with one learned negative-side slope per unit (He et al.), starting at 0.25; the
        slopes are trained by every optimizer, never penalised (L1, L2, AdamW's decay) and
        may become negative or exceed 1.
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
        ``fastmlp[cuda]`` extra; batch norm and PReLU are CPU-only for now); ``params``
        stays a host array either way, copied to the GPU per call and per training epoch.
        Change it with :meth:`to`.
    batch_norm : bool or sequence of bool, default=False
        Batch normalisation (Ioffe & Szegedy) of every hidden layer (True) or of the hidden
        layers marked True: dense -> batch norm -> activation. Training normalises each
        minibatch with its own statistics (unweighted: sample weights weight the loss
        only; biased variance) and updates the running statistics once per minibatch,
        PyTorch's way: ``running <- (1 - momentum) running + momentum batch``, the running
        variance from the unbiased batch variance. Inference uses the running statistics,
        folded into the dense layer before (see :meth:`folded`) for batches large enough
        to repay the fold, applied in the kernel for a few rows, so it costs about what it
        costs without batch norm. A batch-normalised layer's intercept is kept in the layout but
        stays 0 (its gradient is exactly 0; beta plays its role). A minibatch of one row
        cannot be normalised: ``fit`` merges a last one-row minibatch into the one before
        it and refuses ``batch_size=1``.
    batch_norm_momentum : float in (0, 1], default=0.1
    batch_norm_epsilon : float > 0, default=1e-5
        Added to the variance before its square root.

    Attributes
    ----------
    params : ndarray of shape (n_params,)
        All weights (layer by layer, row-major), then all intercepts, then each layer's
        batch-norm scale and shift and PReLU slopes (see :meth:`unpack`).
    coefs : list of ndarray of shape (fan_in, fan_out)
        Views into ``params``.
    intercepts : list of ndarray of shape (fan_out,)
        Views into ``params``.
    gamma, beta, slopes : list of (ndarray of shape (fan_out,) or None)
        One entry per weight layer (as ``coefs``): the batch-norm scale and shift and the
        PReLU slopes, views into ``params``, or None for a layer without them (the output
        layer never has them).
    state : ndarray of shape (n_state,)
        The running statistics (not parameters: no optimizer touches them).
    running_mean, running_var : list of (ndarray of shape (fan_out,) or None)
        Views into ``state``, one entry per weight layer, None without batch norm.
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
        batch_norm=False,
        batch_norm_momentum=0.1,
        batch_norm_epsilon=1e-5,
    ):
        self.layer_sizes = _check_layer_sizes(layer_sizes)
        n_hidden = len(self.layer_sizes) - 2
        if isinstance(activation, str):
            activation = [activation] * n_hidden if n_hidden else [activation]
        if not isinstance(activation, (list, tuple)):
            raise TypeError(f"activation must be a name or a list of names, got {activation!r}.")
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

        self.device = device
        self.batch_norm = _check_batch_norm(batch_norm, n_hidden)
        self.batch_norm_momentum = v.check_number(
            batch_norm_momentum, "batch_norm_momentum", 0, 1, low_open=True
        )
        self.batch_norm_epsilon = v.check_number(
            batch_norm_epsilon, "batch_norm_epsilon", 0, low_open=True
        )
        names = self.hidden_activations + [self.output_activation]
        self.layout = layout.lay_out(
            self.layer_sizes,
            [codes.ACTIVATIONS[a] for a in names],
            kinds=[
                layout.DENSE_BATCH_NORM if bn else layout.DENSE for bn in self.batch_norm + [False]
            ],
            prelu=[a == "prelu" for a in self.hidden_activations] + [False],
        )
        backend.check_device(self, device)
        self._act_params = np.asarray([self.activation_param(a) or 0.0 for a in names])
        self._loss_code = codes.LOSSES[self.loss]
        self.params = backend.aligned_zeros(self.n_params, self.dtype)
        self.state = backend.aligned_zeros(self.layout.n_state, self.dtype)
        self._make_views()
        self._predict_ready = backend.no_latency_path  # see backend.latency_predictor
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

    @property
    def has_batch_norm(self):
        """Whether any layer is batch-normalised."""
        return any(self.batch_norm)

    def unpack(self, flat):
        """Name the per-layer blocks of any flat buffer in params' layout (parameters,
        gradients, optimizer states).

        Returns
        -------
        dict
            ``"coefs"``: (fan_in, fan_out) views; ``"intercepts"``, ``"gamma"``, ``"beta"``,
            ``"slopes"``: (fan_out,) views. Each a list with one entry per weight layer,
            None where the layer has no such block. The offsets come from the layer table,
            the one place that lays the buffer out for the kernels too.
        """
        return _views(
            flat,
            self.layout.table,
            {
                "coefs": layout.W_START,
                "intercepts": layout.B_START,
                "gamma": layout.GAMMA_START,
                "beta": layout.BETA_START,
                "slopes": layout.SLOPE_START,
            },
        )

    def _make_views(self):
        views = self.unpack(self.params)
        self.coefs, self.intercepts = views["coefs"], views["intercepts"]
        self.gamma, self.beta, self.slopes = views["gamma"], views["beta"], views["slopes"]
        self.running_mean, self.running_var = self._state_views(self.state)

    def _state_views(self, state):
        """Per-layer running mean and variance views of a buffer in the state's layout."""
        means, variances = [], []
        for row in self.layout.table.tolist():
            start, width = row[layout.STATE_START], row[layout.FAN_OUT]
            absent = start == layout.NONE
            means.append(None if absent else state[start : start + width])
            variances.append(None if absent else state[start + width : start + 2 * width])
        return means, variances

    def folded(self):
        """Per-layer ``(W, b)`` for inference, batch norm folded into its dense layer.

        A batch-normalised layer computes ``gamma (x W + b - mean) / sigma + beta`` with the
        running ``mean`` and ``sigma = sqrt(running_var + epsilon)``: the dense layer
        ``x (W gamma / sigma) + ((b - mean) gamma / sigma + beta)``. Other layers are
        returned as they are. Computed in float64, returned in the network's dtype; the
        activations (PReLU's slopes included) are unchanged.

        Returns
        -------
        list of (ndarray of shape (fan_in, fan_out), ndarray of shape (fan_out,))
        """
        layers = []
        for l, (W, b) in enumerate(zip(self.coefs, self.intercepts)):
            if self.gamma[l] is None:
                layers.append((W.copy(), b.copy()))
                continue
            sigma = np.sqrt(self.running_var[l].astype(np.float64) + self.batch_norm_epsilon)
            scale = self.gamma[l] / sigma
            shift = (b - self.running_mean[l].astype(np.float64)) * scale + self.beta[l]
            layers.append(((W * scale).astype(self.dtype), shift.astype(self.dtype)))
        return layers

    def _folded_buffer(self):
        """The folded network as the kernels read it: a flat buffer and its :class:`Layout`
        (no batch-norm blocks; the PReLU slopes copied)."""
        folded_layout = self.__dict__.get("_folded_layout")
        if folded_layout is None:
            table = self.layout.table
            folded_layout = layout.lay_out(
                self.layer_sizes,
                table[:, layout.CODE],
                prelu=table[:, layout.SLOPE_START] != layout.NONE,
            )
            self._folded_layout = folded_layout
        flat = np.empty(folded_layout.n_params, dtype=self.dtype)
        views = _views(
            flat,
            folded_layout.table,
            {"coefs": layout.W_START, "intercepts": layout.B_START, "slopes": layout.SLOPE_START},
        )
        for l, (W, b) in enumerate(self.folded()):
            views["coefs"][l][...] = W
            views["intercepts"][l][...] = b
            if views["slopes"][l] is not None:
                views["slopes"][l][...] = self.slopes[l]
        return flat, folded_layout

    def initialize(self, random_state=None):
        """Draw fresh parameters in place (the views stay valid).

        Weights and intercepts as ``init`` says (a batch-normalised layer's intercept is
        drawn, keeping the random stream, then set to 0); gamma 1, beta 0, PReLU slopes
        0.25; running mean 0 and variance 1.
        """
        rng = v.check_random_state(random_state)
        for l, (W, b) in enumerate(zip(self.coefs, self.intercepts)):
            self._draw_layer(l, W, b, rng)
            if self.gamma[l] is not None:
                b[...] = 0.0
                self.gamma[l][...] = 1.0
                self.beta[l][...] = 0.0
                self.running_mean[l][...] = 0.0
                self.running_var[l][...] = 1.0
            if self.slopes[l] is not None:
                self.slopes[l][...] = PRELU_INIT
        return self

    def _draw_layer(self, l, W, b, rng):
        fan_in, fan_out = W.shape
        layer_act = self._init_activation(l)
        if self.init == "glorot_uniform":
            factor = 2.0 if layer_act == "logistic" else 6.0
            bound = np.sqrt(factor / (fan_in + fan_out))
            W[...] = rng.uniform(-bound, bound, (fan_in, fan_out))
            b[...] = rng.uniform(-bound, bound, fan_out)
            return
        if self.init == "glorot_normal":
            W[...] = rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), (fan_in, fan_out))
        elif self.init == "he_uniform":
            bound = np.sqrt(6.0 / fan_in)
            W[...] = rng.uniform(-bound, bound, (fan_in, fan_out))
        else:  # he_normal
            W[...] = rng.normal(0.0, np.sqrt(2.0 / fan_in), (fan_in, fan_out))
        b[...] = 0.0

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
        self._predict_ready = backend.no_latency_path
        return self

    # ---- computation --------------------------------------------------------------------
    def _check_X(self, X):
        return v.check_matrix(X, "X", self.dtype, self.layer_sizes[0])

    def forward(self, X, chunk_size=4096, training=False):
        """Outputs after the output activation, shape (n_samples, n_outputs).

        Rows are processed ``chunk_size`` at a time, bounding the workspace's memory.
        Batch norm uses the running statistics (folded into the dense layers), or with
        ``training=True`` the statistics of all of ``X`` (one chunk), as during training,
        without changing the running statistics.
        """
        if type(chunk_size) is not int or chunk_size < 1:  # the common case costs 40 ns
            chunk_size = v.check_positive_int(chunk_size, "chunk_size")
        if training:
            X = self._check_X(X)
            self._check_batch_rows(X.shape[0], "forward(training=True)")
            out = backend.forward_training(self, X)
            v.check_finite_result("forward", out)
            return out
        out = self._predict_ready(X, chunk_size)
        if out is not None:
            return out
        if not self._is_plain(X):
            X = self._check_X(X)
        out, status = self._predict_general(X, chunk_size)
        if status != layout.PREDICT_OK:
            self._check_prediction(X, out, status)
        return out

    def _predict(self, X, chunk_size=4096):
        """``forward`` of plain input (:meth:`_is_plain`); None for any other input or one
        holding a NaN or infinity (the caller's validation names it)."""
        out = self._predict_ready(X, chunk_size)
        if out is not None:
            return out
        if not self._is_plain(X):
            return None
        out, status = self._predict_general(X, chunk_size)
        if status == layout.PREDICT_BAD_INPUT:
            return None
        if status != layout.PREDICT_OK:
            self._check_prediction(X, out, status)
        return out

    def _is_plain(self, X):
        """Whether the kernels take ``X`` as it is: ``is_ready`` with the right column count."""
        return v.is_ready(X, self.dtype) and X.shape[1] == self.layer_sizes[0]

    def _predict_general(self, X, chunk_size):
        """backend.predict, after which the latency path (``_predict_ready``) may exist."""
        result = backend.predict(self, X, chunk_size)
        self._predict_ready = backend.latency_predictor(self)
        return result

    def _check_prediction(self, X, out, status):
        """Raise for a prediction whose status (``layout.PREDICT_*``) is not OK."""
        if status == layout.PREDICT_BAD_INPUT:
            self._check_X(np.array(X))  # names the NaN or infinity the kernel found
            raise ValueError("X contains NaN or infinity.")
        v.check_finite_result("forward", out)

    def calibrate_batch_norm(self, X):
        """Set the running statistics to those of ``X`` under the current parameters.

        Each batch-normalised layer's running mean and variance become the mean and the
        unbiased variance of its dense outputs over all of ``X`` (a running update with
        momentum 1), layer after layer. Used after full-batch training (L-BFGS), which
        never updates the running statistics; a network without batch norm is unchanged.
        """
        X = self._check_X(X)
        if self.has_batch_norm:
            self._check_batch_rows(X.shape[0], "calibrate_batch_norm")
            backend.calibrate_batch_norm(self, X)
        return self

    def _check_batch_rows(self, n_rows, what):
        if self.has_batch_norm and n_rows < 2:
            raise ValueError(
                f"{what} with batch norm needs at least 2 rows (a batch of {n_rows} row "
                "has no variance to normalise by)."
            )

    def loss_and_grad(self, X, Y, sample_weight=None, alpha=0.0, *, l1=0.0, loss_scale=1.0):
        """Mean loss over the (weighted) samples plus regularisers, and its flat gradient.

        ``Y`` is 2-D: one column per output (one-hot rows for softmax outputs).
        ``loss_scale`` multiplies the reported data loss only (the gradient stays that of
        the unscaled loss), which is how scikit-learn reports multi-output squared error.
        Batch norm normalises with the statistics of ``X`` (at least 2 rows), as training
        does, and leaves the running statistics alone. The gradient has params' layout:
        :meth:`unpack` names its blocks (gamma, beta and slopes included).
        """
        X, Y, sw = self._check_data(X, Y, sample_weight)
        self._check_batch_rows(X.shape[0], "loss_and_grad")
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
        self,
        X,
        Y,
        *,
        sample_weight=None,
        solver="adam",
        learning_rate_init=0.001,
        batch_size=200,
        max_iter=200,
        shuffle=True,
        random_state=None,
        alpha=0.0,
        early_stopping=False,
        validation_fraction=0.1,
        verbose=False,
        progress_bar=False,
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
            solver=solver,
            learning_rate_init=learning_rate_init,
            batch_size=batch_size,
            max_iter=max_iter,
            shuffle=shuffle,
            alpha=alpha,
            **options,
        )
        dropout = config.validate(len(self.layer_sizes) - 2)
        rng = v.check_random_state(random_state)
        validation_score = None
        if early_stopping:
            v.check_number(validation_fraction, "validation_fraction", 0, 1, True, True)
            X, Y, sw, validation_score = self._hold_out(X, Y, sw, validation_fraction, rng)
        progress = training.Progress()
        training.run_epochs(
            self,
            X,
            Y,
            sw,
            config,
            training.Optimizer(self, config),
            progress,
            rng,
            validation_score=validation_score,
            dropout=dropout,
            verbose=verbose,
            warn=False,
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
            # The inference outputs' loss (batch norm with its running statistics); NaN
            # when it overflows.
            hp = layout.hyperparameters(self.dtype)
            return -backend.loss_and_grad(self, X_val, Y_val, sw_val, hp, inference=True)[0]

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
        # The per-layer lists are views into params and state: pickle the buffers once,
        # rebuild the views. Saved models record no device: a GPU-trained network loads
        # onto the CPU.
        state = dict(self.__dict__)
        for name in _VIEW_NAMES + ("_folded_layout", "_predict_ready", "device"):
            state.pop(name, None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.device = "cpu"
        # Networks pickled before batch norm existed: no layer has it.
        n_hidden = len(self.layer_sizes) - 2
        self.__dict__.setdefault("batch_norm", [False] * n_hidden)
        self.__dict__.setdefault("batch_norm_momentum", 0.1)
        self.__dict__.setdefault("batch_norm_epsilon", 1e-5)
        # Writeable buffers on their own cache lines (joblib may hand back read-only memmaps).
        self.params = backend.aligned_copy(self.params, self.dtype)
        self.state = backend.aligned_copy(
            self.__dict__.get("state", np.zeros(self.layout.n_state)), self.dtype
        )
        self._make_views()
        self._predict_ready = backend.no_latency_path

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


PRELU_INIT = 0.25  # He et al.'s initial PReLU slope
_VIEW_NAMES = ("coefs", "intercepts", "gamma", "beta", "slopes", "running_mean", "running_var")


def _views(flat, table, columns):
    """{name: per-layer views of ``flat``} for the layer-table start ``columns[name]``;
    weights are (fan_in, fan_out) matrices, everything else (fan_out,) vectors."""
    views = {name: [] for name in columns}
    for row in table.tolist():
        fan_in, fan_out = row[layout.FAN_IN], row[layout.FAN_OUT]
        for name, column in columns.items():
            start = row[column]
            if start == layout.NONE:
                views[name].append(None)
            elif column == layout.W_START:
                views[name].append(flat[start : start + fan_in * fan_out].reshape(fan_in, fan_out))
            else:
                views[name].append(flat[start : start + fan_out])
    return views


def _check_batch_norm(batch_norm, n_hidden):
    """One bool per hidden layer from ``batch_norm`` (a bool or one bool per hidden layer)."""
    if isinstance(batch_norm, (bool, np.bool_)):
        return [bool(batch_norm)] * n_hidden
    if not isinstance(batch_norm, (list, tuple)) or not all(
        isinstance(b, (bool, np.bool_)) for b in batch_norm
    ):
        raise TypeError(
            f"batch_norm must be a bool or a list of bools (one per hidden layer), "
            f"got {batch_norm!r}."
        )
    if len(batch_norm) != n_hidden:
        raise ValueError(f"batch_norm lists {len(batch_norm)} flags for {n_hidden} hidden layers.")
    return [bool(b) for b in batch_norm]


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
