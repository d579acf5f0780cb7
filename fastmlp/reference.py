"""Plain NumPy reference implementation of MLP training ("teaching text").

This module is deliberately independent of the Numba kernels in the rest of
``fastmlp``: it imports nothing from the package and shares no code with it.
It follows the textbook backpropagation equations literally, in float64, so
that it can serve as an independent check of the fused, optimised kernels.

Notation (rows of ``X`` are samples, ``W_l`` has shape ``(fan_in, fan_out)``)::

    A_0     = X
    Z_l     = A_{l-1} W_l + b_l                    (pre-activation)
    A_l     = g_l(Z_l)                             (activation)
    D_L     = dLoss/dZ_L                           (output delta)
    D_{l-1} = (D_l W_l^T) * g'_{l-1}(Z_{l-1})      (backpropagated delta)
    dW_l    = A_{l-1}^T D_l
    db_l    = sum over rows of D_l

Batch normalisation (Ioffe & Szegedy) of a hidden layer sits between its dense part and its
activation, and PReLU (He et al.) is leaky relu with one learned slope ``a_j`` per unit::

    Z_l     = A_{l-1} W_l + b_l
    mu, var = mean and biased variance of Z_l over the rows of the batch
    Xhat    = (Z_l - mu) / sqrt(var + eps)
    Y_l     = gamma * Xhat + beta                  (Y_l = Z_l without batch norm)
    A_l     = g_l(Y_l);  PReLU: A_l = Y_l where Y_l > 0, else a * Y_l

and backward, with ``G = dLoss/dA_l`` and the chain rule of the batch-norm paper written out
term by term (variance, then mean)::

    dY      = G * g'(Y_l);  PReLU: dY = G where Y_l > 0, else a * G;  da = sum G * min(Y_l, 0)
    dgamma  = sum dY * Xhat;  dbeta = sum dY
    dXhat   = dY * gamma
    dvar    = sum dXhat * (Z_l - mu) * (-1/2) (var + eps)^(-3/2)
    dmu     = sum -dXhat / sqrt(var + eps) + dvar * mean(-2 (Z_l - mu))
    D_l     = dXhat / sqrt(var + eps) + dvar * 2 (Z_l - mu) / N + dmu / N

Parameters and gradients of every kind are passed around as dicts of per-layer lists
(``"coefs"``, ``"intercepts"``, ``"gamma"``, ``"beta"``, ``"slopes"``; None where a layer has
no such block), the shape of ``fastmlp.Network.unpack``'s answer.
"""

import math

import numpy as np
from scipy.special import expit, xlogy

__all__ = [
    "activation",
    "activation_derivative",
    "forward",
    "loss",
    "loss_and_grad",
    "loss_and_grad_blocks",
    "forward_blocks",
    "batch_norm_forward",
    "batch_norm_backward",
    "update_running_statistics",
    "prelu",
    "numerical_gradient",
    "sgd_step",
    "adam_step",
    "adamw_step",
    "adagrad_step",
    "rmsprop_step",
    "clip_by_global_norm",
    "l1_subgradient",
    "learning_rate",
]

#: Default parameter of the parametrised activations.
_DEFAULT_PARAMS = {"leaky_relu": 0.01, "elu": 1.0}

#: Clipping bound used by the logarithmic losses.
_EPS = np.finfo(np.float64).eps


def _as_f64(a):
    """Return ``a`` as a float64 ndarray."""
    return np.asarray(a, dtype=np.float64)


def _param(name, param):
    """Return ``param``, or the activation's default when it is ``None``."""
    if param is None:
        return _DEFAULT_PARAMS.get(name)
    return float(param)


# ---------------------------------------------------------------------------
# Activations
# ---------------------------------------------------------------------------


def activation(name, Z, param=None):
    """Apply an activation function to the pre-activations ``Z``.

    Parameters
    ----------
    name : str
        One of ``"identity"``, ``"logistic"``, ``"tanh"``, ``"relu"``,
        ``"leaky_relu"``, ``"elu"``, ``"softmax"``, ``"exp"``.
    Z : array-like of shape (n_samples, n_units)
        Pre-activations.
    param : float or None, default=None
        Slope of ``"leaky_relu"`` (default 0.01) or ``alpha`` of ``"elu"``
        (default 1.0). Ignored by the other activations.

    Returns
    -------
    A : ndarray of shape (n_samples, n_units)
        A new float64 array ``g(Z)``.

    Raises
    ------
    ValueError
        If ``name`` is not a known activation.
    """
    Z = _as_f64(Z)
    p = _param(name, param)
    if name == "identity":
        return Z.copy()
    if name == "logistic":
        return expit(Z)  # 1 / (1 + exp(-z)), numerically safe
    if name == "tanh":
        return np.tanh(Z)
    if name == "relu":
        return np.maximum(Z, 0.0)
    if name == "leaky_relu":
        return np.where(Z > 0, Z, p * Z)
    if name == "elu":
        # expm1 is exp(z) - 1 without cancellation near 0; the minimum
        # keeps the unused branch from overflowing for large positive z.
        return np.where(Z > 0, Z, p * np.expm1(np.minimum(Z, 0.0)))
    if name == "softmax":
        # softmax is invariant to a per-row shift; subtracting the row max
        # keeps exp() from overflowing.
        E = np.exp(Z - Z.max(axis=-1, keepdims=True))
        return E / E.sum(axis=-1, keepdims=True)
    if name == "exp":
        return np.exp(Z)
    raise ValueError(f"unknown activation {name!r}")


def activation_derivative(name, Z, param=None):
    """Elementwise derivative ``g'(Z)`` as a function of the pre-activation.

    Parameters
    ----------
    name : str
        Activation name (any of :func:`activation`'s names except
        ``"softmax"``).
    Z : array-like
        Pre-activations.
    param : float or None, default=None
        As in :func:`activation`.

    Returns
    -------
    dA_dZ : ndarray
        ``g'(Z)``, same shape as ``Z``. The derivative of ``"relu"`` at
        exactly 0 is taken to be 0.

    Raises
    ------
    ValueError
        For ``"softmax"`` (its derivative is a Jacobian, not elementwise;
        see :func:`loss_and_grad`) or an unknown name.
    """
    Z = _as_f64(Z)
    p = _param(name, param)
    if name == "identity":
        return np.ones_like(Z)
    if name == "logistic":
        s = expit(Z)
        return s * (1.0 - s)  # sigma' = sigma (1 - sigma)
    if name == "tanh":
        return 1.0 - np.tanh(Z) ** 2  # tanh' = 1 - tanh^2
    if name == "relu":
        return (Z > 0).astype(np.float64)
    if name == "leaky_relu":
        return np.where(Z > 0, 1.0, p)
    if name == "elu":
        return np.where(Z > 0, 1.0, p * np.exp(np.minimum(Z, 0.0)))
    if name == "exp":
        return np.exp(Z)  # exp' = exp
    if name == "softmax":
        raise ValueError(
            "softmax has no elementwise derivative; it is handled as a "
            "Jacobian-vector product in the output delta"
        )
    raise ValueError(f"unknown activation {name!r}")


def _activation_vjp(name, Z, A, G, param=None):
    """Pull the gradient ``G = dLoss/dA`` back through ``A = g(Z)``.

    Returns ``dLoss/dZ``. For elementwise activations this is
    ``G * g'(Z)``. For softmax, ``dA_j/dZ_i = a_j (delta_ij - a_i)`` per row,
    so ``dLoss/dZ_i = a_i (G_i - sum_k G_k a_k)``.
    """
    if name == "softmax":
        return A * (G - np.sum(G * A, axis=1, keepdims=True))
    return G * activation_derivative(name, Z, param)


# ---------------------------------------------------------------------------
# Forward pass
# ---------------------------------------------------------------------------


def _layer_settings(coefs, hidden_activations, output_activation, activation_params):
    """Per-layer activation names and parameters, checked for length."""
    n_layers = len(coefs)
    names = list(hidden_activations) + [output_activation]
    if len(names) != n_layers:
        raise ValueError(
            f"expected {n_layers - 1} hidden activations, got {len(hidden_activations)}"
        )
    if activation_params is None:
        activation_params = [None] * n_layers
    params = list(activation_params)
    if len(params) != n_layers:
        raise ValueError(f"expected {n_layers} activation params, got {len(params)}")
    return names, params


def _forward_pass(coefs, intercepts, X, names, params):
    """Return the pre-activations ``[Z_1..Z_L]`` and ``[A_0..A_L]``."""
    A = _as_f64(X)
    Zs, As = [], [A]
    for W, b, name, p in zip(coefs, intercepts, names, params):
        Z = A @ _as_f64(W) + _as_f64(b)  # Z_l = A_{l-1} W_l + b_l
        A = activation(name, Z, p)  # A_l = g_l(Z_l)
        Zs.append(Z)
        As.append(A)
    return Zs, As


def forward(coefs, intercepts, X, hidden_activations, output_activation, activation_params=None):
    """Run the network forward.

    Parameters
    ----------
    coefs : list of array-like
        Weight matrices ``W_l`` of shape ``(fan_in, fan_out)``.
    intercepts : list of array-like
        Bias vectors ``b_l`` of shape ``(fan_out,)``.
    X : array-like of shape (n_samples, n_features)
        Input; rows are samples.
    hidden_activations : list of str
        One activation name per hidden layer (``len(coefs) - 1`` names).
    output_activation : str
        Activation of the output layer.
    activation_params : list or None, default=None
        ``len(coefs)`` per-layer activation parameters (``None`` entries
        mean the activation's default).

    Returns
    -------
    activations : list of ndarray
        ``[X, A_1, ..., A_L]`` in float64.
    """
    names, params = _layer_settings(coefs, hidden_activations, output_activation, activation_params)
    return _forward_pass(coefs, intercepts, X, names, params)[1]


# ---------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------


def _weights(sample_weight, n_samples):
    """Sample weights as a float64 vector (ones when ``None``)."""
    if sample_weight is None:
        return np.ones(n_samples)
    return _as_f64(sample_weight).reshape(n_samples)


def _per_sample_loss(name, Y, A):
    """Loss of each sample, summed over the outputs."""
    if name == "squared_error":
        L = 0.5 * (A - Y) ** 2
    elif name == "log_loss":
        L = -xlogy(Y, np.clip(A, _EPS, 1 - _EPS))
    elif name == "binary_log_loss":
        Ac = np.clip(A, _EPS, 1 - _EPS)
        L = -(xlogy(Y, Ac) + xlogy(1 - Y, 1 - Ac))
    elif name == "poisson":
        # half Poisson deviance: y log(y/a) - y + a  (0 log 0 = 0)
        L = xlogy(Y, Y / A) - Y + A
    else:
        raise ValueError(f"unknown loss {name!r}")
    return L.sum(axis=1)


def _loss_gradient(name, Y, A):
    """Elementwise ``d(per-sample loss)/dA`` (clipping ignored)."""
    if name == "squared_error":
        return A - Y
    if name == "log_loss":
        return -Y / A
    if name == "binary_log_loss":
        return -Y / A + (1 - Y) / (1 - A)
    if name == "poisson":
        return 1 - Y / A
    raise ValueError(f"unknown loss {name!r}")


def _as_2d(Y, A):
    """Targets reshaped like the (2-D) predictions."""
    return _as_f64(Y).reshape(_as_f64(A).shape)


def loss(name, Y, A, sample_weight=None):
    """Weighted mean loss of predictions ``A`` against targets ``Y``.

    Parameters
    ----------
    name : str
        ``"squared_error"``, ``"log_loss"``, ``"binary_log_loss"`` or
        ``"poisson"`` (half deviance).
    Y : array-like of shape (n_samples, n_outputs)
        Targets.
    A : array-like of shape (n_samples, n_outputs)
        Predictions (output activations).
    sample_weight : array-like of shape (n_samples,) or None
        Per-sample weights ``w``; ones when ``None``.

    Returns
    -------
    loss : float
        ``sum_i w_i * l_i / sum_i w_i`` where ``l_i`` is the per-sample loss
        summed over outputs.

    Raises
    ------
    ValueError
        If ``name`` is not a known loss.
    """
    A = _as_f64(A)
    if A.ndim == 1:
        A = A[:, None]
    Y = _as_2d(Y, A)
    w = _weights(sample_weight, A.shape[0])
    return float(np.dot(w, _per_sample_loss(name, Y, A)) / w.sum())


# ---------------------------------------------------------------------------
# Backpropagation
# ---------------------------------------------------------------------------


def loss_and_grad(
    coefs,
    intercepts,
    X,
    Y,
    hidden_activations,
    output_activation,
    loss_name,
    sample_weight=None,
    alpha=0.0,
    activation_params=None,
):
    """Loss and its gradient with respect to all weights and biases.

    The output delta is obtained by the general chain rule,
    ``D_L = dLoss/dA_L * dA_L/dZ_L`` (a Jacobian-vector product for softmax),
    *not* the ``A - Y`` shortcut of canonical link/loss pairs, so it is an
    independent check of kernels that fuse that shortcut.

    Parameters
    ----------
    coefs, intercepts, X, hidden_activations, output_activation, activation_params
        As in :func:`forward`.
    Y : array-like of shape (n_samples, n_outputs)
        Targets.
    loss_name : str
        As in :func:`loss`.
    sample_weight : array-like of shape (n_samples,) or None
        Per-sample weights; ones when ``None``.
    alpha : float, default=0.0
        L2 penalty; adds ``0.5 * alpha * sum_l ||W_l||^2 / sum(w)`` to the
        loss (intercepts are not penalised).

    Returns
    -------
    loss : float
        Data loss plus the L2 term.
    coef_grads : list of ndarray
        ``dLoss/dW_l``, shaped like ``coefs``.
    intercept_grads : list of ndarray
        ``dLoss/db_l``, shaped like ``intercepts``.
    """
    names, params = _layer_settings(coefs, hidden_activations, output_activation, activation_params)
    coefs = [_as_f64(W) for W in coefs]
    Zs, As = _forward_pass(coefs, intercepts, X, names, params)
    A_out = As[-1]
    Y = _as_2d(Y, A_out)
    w = _weights(sample_weight, A_out.shape[0])
    S = w.sum()

    data_loss = np.dot(w, _per_sample_loss(loss_name, Y, A_out)) / S
    penalty = 0.5 * alpha * sum(np.sum(W**2) for W in coefs) / S

    # dLoss/dA_L: each row carries the weight w_i / S of its sample.
    G = _loss_gradient(loss_name, Y, A_out) * (w / S)[:, None]
    # Output delta D_L = dLoss/dZ_L.
    D = _activation_vjp(names[-1], Zs[-1], A_out, G, params[-1])

    n_layers = len(coefs)
    coef_grads = [None] * n_layers
    intercept_grads = [None] * n_layers
    for l in range(n_layers - 1, -1, -1):
        coef_grads[l] = As[l].T @ D + alpha * coefs[l] / S  # A_{l-1}^T D_l
        intercept_grads[l] = D.sum(axis=0)
        if l > 0:
            # D_{l-1} = (D_l W_l^T) * g'_{l-1}(Z_{l-1})
            D = (D @ coefs[l].T) * activation_derivative(names[l - 1], Zs[l - 1], params[l - 1])
    return float(data_loss + penalty), coef_grads, intercept_grads


def numerical_gradient(f, params, eps=1e-6):
    """Central finite-difference gradient of a scalar function.

    Parameters
    ----------
    f : callable
        ``f(params) -> float`` on a flat float64 vector.
    params : array-like of shape (n,)
        Point at which to differentiate.
    eps : float, default=1e-6
        Perturbation size.

    Returns
    -------
    grad : ndarray of shape (n,)
        ``(f(p + eps e_i) - f(p - eps e_i)) / (2 eps)`` for each ``i``.
    """
    p = _as_f64(params).ravel().copy()
    grad = np.empty_like(p)
    for i in range(p.size):
        old = p[i]
        p[i] = old + eps
        f_plus = f(p.copy())
        p[i] = old - eps
        f_minus = f(p.copy())
        p[i] = old
        grad[i] = (f_plus - f_minus) / (2.0 * eps)
    return grad


# ---------------------------------------------------------------------------
# Batch normalisation, PReLU, and networks with them
# ---------------------------------------------------------------------------


def prelu(Y, slopes):
    """PReLU: ``Y`` where positive, else ``slopes * Y`` (one slope per column)."""
    Y = _as_f64(Y)
    return np.where(Y > 0, Y, _as_f64(slopes) * Y)


def batch_norm_forward(Z, gamma, beta, eps=1e-5, mean=None, var=None):
    """Batch normalisation of the columns of ``Z``.

    With ``mean`` and ``var`` None, the batch's own mean and biased variance (training);
    otherwise the given (running) statistics (inference).

    Returns
    -------
    Y : ndarray
        ``gamma * Xhat + beta``.
    cache : tuple
        ``(Z, mu, var, Xhat)`` for :func:`batch_norm_backward`.
    """
    Z = _as_f64(Z)
    mu = Z.mean(axis=0) if mean is None else _as_f64(mean)
    var = ((Z - mu) ** 2).mean(axis=0) if var is None else _as_f64(var)
    Xhat = (Z - mu) / np.sqrt(var + eps)
    return _as_f64(gamma) * Xhat + _as_f64(beta), (Z, mu, var, Xhat)


def batch_norm_backward(dY, cache, gamma, eps=1e-5):
    """Gradients through training-mode batch normalisation, the paper's chain rule.

    Returns
    -------
    dZ, dgamma, dbeta : ndarray
    """
    Z, mu, var, Xhat = cache
    N = Z.shape[0]
    dgamma = np.sum(dY * Xhat, axis=0)
    dbeta = np.sum(dY, axis=0)
    dXhat = dY * _as_f64(gamma)
    dvar = np.sum(dXhat * (Z - mu), axis=0) * -0.5 * (var + eps) ** -1.5
    dmu = np.sum(-dXhat / np.sqrt(var + eps), axis=0) + dvar * np.mean(-2.0 * (Z - mu), axis=0)
    dZ = dXhat / np.sqrt(var + eps) + dvar * 2.0 * (Z - mu) / N + dmu / N
    return dZ, dgamma, dbeta


def update_running_statistics(running_mean, running_var, Z, momentum=0.1):
    """PyTorch's update: ``r <- (1 - m) r + m batch``, the unbiased batch variance.

    Returns
    -------
    running_mean, running_var : ndarray
        Updated copies.
    """
    Z = _as_f64(Z)
    var = Z.var(axis=0, ddof=1)
    return (
        (1 - momentum) * _as_f64(running_mean) + momentum * Z.mean(axis=0),
        (1 - momentum) * _as_f64(running_var) + momentum * var,
    )


def _block(blocks, name, l):
    entries = blocks.get(name)
    return None if entries is None else entries[l]


def _forward_layers(blocks, X, names, params, eps, running):
    """Per layer: the dense outputs Z, the batch-norm caches, the pre-activations Y and the
    activations ``[A_0..A_L]``."""
    A = _as_f64(X)
    Zs, caches, Ys, As = [], [], [], [A]
    for l, (name, p) in enumerate(zip(names, params)):
        Z = A @ _as_f64(blocks["coefs"][l]) + _as_f64(blocks["intercepts"][l])
        cache = None
        gamma = _block(blocks, "gamma", l)
        if gamma is not None:
            mean, var = (None, None) if running is None else (running[0][l], running[1][l])
            Y, cache = batch_norm_forward(Z, gamma, blocks["beta"][l], eps, mean, var)
        else:
            Y = Z
        slopes = _block(blocks, "slopes", l)
        A = prelu(Y, slopes) if slopes is not None else activation(name, Y, p)
        Zs.append(Z)
        caches.append(cache)
        Ys.append(Y)
        As.append(A)
    return Zs, caches, Ys, As


def forward_blocks(
    blocks,
    X,
    hidden_activations,
    output_activation,
    activation_params=None,
    batch_norm_epsilon=1e-5,
    running=None,
):
    """Run a network given as named blocks forward.

    Parameters
    ----------
    blocks : dict
        Per-layer lists ``"coefs"``, ``"intercepts"`` and optionally ``"gamma"``, ``"beta"``
        (batch norm where not None) and ``"slopes"`` (PReLU where not None; the hidden
        activation's name is then ``"prelu"``).
    running : (list, list) or None
        Running means and variances per layer: batch norm in inference mode. None: the
        batch's statistics (training mode).

    Returns
    -------
    activations : list of ndarray
        ``[X, A_1, ..., A_L]`` in float64.
    """
    names, params = _layer_settings(
        blocks["coefs"], hidden_activations, output_activation, activation_params
    )
    return _forward_layers(blocks, X, names, params, batch_norm_epsilon, running)[3]


def loss_and_grad_blocks(
    blocks,
    X,
    Y,
    hidden_activations,
    output_activation,
    loss_name,
    sample_weight=None,
    alpha=0.0,
    activation_params=None,
    batch_norm_epsilon=1e-5,
):
    """Loss and its gradient for a network given as named blocks (see
    :func:`forward_blocks`), batch norm in training mode (the batch's statistics).

    Returns
    -------
    loss : float
        Data loss plus ``0.5 * alpha * sum ||W||^2 / sum(w)`` (weights only).
    grads : dict
        The gradient of every block, the same keys and shapes as ``blocks``.
    """
    names, params = _layer_settings(
        blocks["coefs"], hidden_activations, output_activation, activation_params
    )
    coefs = [_as_f64(W) for W in blocks["coefs"]]
    eps = batch_norm_epsilon
    Zs, caches, Ys, As = _forward_layers(blocks, X, names, params, eps, None)
    A_out = As[-1]
    Y = _as_2d(Y, A_out)
    w = _weights(sample_weight, A_out.shape[0])
    S = w.sum()
    data_loss = np.dot(w, _per_sample_loss(loss_name, Y, A_out)) / S
    penalty = 0.5 * alpha * sum(np.sum(W**2) for W in coefs) / S

    n_layers = len(coefs)
    grads = {name: [None] * n_layers for name in blocks}
    # dLoss/dA_L: each row carries the weight w_i / S of its sample.
    G = _loss_gradient(loss_name, Y, A_out) * (w / S)[:, None]
    for l in range(n_layers - 1, -1, -1):
        slopes = _block(blocks, "slopes", l)
        if l == n_layers - 1:
            D = _activation_vjp(names[l], Ys[l], A_out, G, params[l])
        elif slopes is not None:
            D = G * np.where(Ys[l] > 0, 1.0, _as_f64(slopes))
            grads["slopes"][l] = np.sum(G * np.where(Ys[l] > 0, 0.0, Ys[l]), axis=0)
        else:
            D = G * activation_derivative(names[l], Ys[l], params[l])
        if caches[l] is not None:
            D, grads["gamma"][l], grads["beta"][l] = batch_norm_backward(
                D, caches[l], blocks["gamma"][l], eps
            )
        grads["coefs"][l] = As[l].T @ D + alpha * coefs[l] / S  # A_{l-1}^T D_l
        grads["intercepts"][l] = D.sum(axis=0)
        G = D @ coefs[l].T  # dLoss/dA_{l-1}
    return float(data_loss + penalty), grads


# ---------------------------------------------------------------------------
# Optimizer steps (flat float64 vectors, no in-place mutation)
# ---------------------------------------------------------------------------


def sgd_step(params, grad, velocity, lr, momentum=0.9, nesterov=True):
    """One SGD step with (optionally Nesterov) momentum, scikit-learn style.

    ``v = momentum * v - lr * g``; then ``w = w + momentum * v - lr * g``
    with Nesterov, else ``w = w + v``. With ``momentum=0`` this is plain SGD.

    Returns
    -------
    params, velocity : ndarray
        Updated copies.
    """
    w, g, v = _as_f64(params), _as_f64(grad), _as_f64(velocity)
    v = momentum * v - lr * g
    if nesterov:
        w = w + momentum * v - lr * g
    else:
        w = w + v
    return w, v


def _adam_direction(grad, m, v, t, lr, beta_1, beta_2, epsilon):
    """Shared Adam moment update; returns (step, m, v, t)."""
    g = _as_f64(grad)
    t = t + 1
    m = beta_1 * _as_f64(m) + (1 - beta_1) * g  # first moment
    v = beta_2 * _as_f64(v) + (1 - beta_2) * g**2  # second moment
    # bias correction folded into the learning rate
    lr_t = lr * math.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    return lr_t * m / (np.sqrt(v) + epsilon), m, v, t


def adam_step(params, grad, m, v, t, lr, beta_1=0.9, beta_2=0.999, epsilon=1e-8):
    """One Adam step (scikit-learn's ``AdamOptimizer`` form).

    ``t += 1``; ``m = b1 m + (1-b1) g``; ``v = b2 v + (1-b2) g^2``;
    ``lr_t = lr sqrt(1 - b2^t) / (1 - b1^t)``;
    ``w = w - lr_t m / (sqrt(v) + epsilon)``.

    Returns
    -------
    params, m, v : ndarray
        Updated copies.
    t : int
        Incremented step count.
    """
    step, m, v, t = _adam_direction(grad, m, v, t, lr, beta_1, beta_2, epsilon)
    return _as_f64(params) - step, m, v, t


def adamw_step(
    params,
    grad,
    m,
    v,
    t,
    lr,
    beta_1=0.9,
    beta_2=0.999,
    epsilon=1e-8,
    weight_decay=0.01,
    decay_mask=None,
):
    """One AdamW step: Adam plus decoupled weight decay.

    ``w = w - lr * weight_decay * w_old * mask - lr_t m / (sqrt(v) + eps)``,
    the decay using the parameters from *before* the update.

    Parameters
    ----------
    decay_mask : array-like of bool or 0/1, or None
        Entries that decay (weights, not intercepts); all when ``None``.

    Returns
    -------
    params, m, v : ndarray
        Updated copies.
    t : int
        Incremented step count.
    """
    w_old = _as_f64(params)
    mask = np.ones_like(w_old) if decay_mask is None else _as_f64(decay_mask)
    step, m, v, t = _adam_direction(grad, m, v, t, lr, beta_1, beta_2, epsilon)
    w = w_old - lr * weight_decay * w_old * mask - step
    return w, m, v, t


def adagrad_step(params, grad, accum, lr, epsilon=1e-8):
    """One Adagrad step: ``G += g^2``; ``w -= lr g / (sqrt(G) + epsilon)``.

    Returns
    -------
    params, accum : ndarray
        Updated copies.
    """
    g = _as_f64(grad)
    G = _as_f64(accum) + g**2
    return _as_f64(params) - lr * g / (np.sqrt(G) + epsilon), G


def rmsprop_step(params, grad, sq_avg, lr, rho=0.9, epsilon=1e-8):
    """One RMSprop step: ``s = rho s + (1-rho) g^2``; ``w -= lr g / (sqrt(s) + eps)``.

    Returns
    -------
    params, sq_avg : ndarray
        Updated copies.
    """
    g = _as_f64(grad)
    s = rho * _as_f64(sq_avg) + (1 - rho) * g**2
    return _as_f64(params) - lr * g / (np.sqrt(s) + epsilon), s


def clip_by_global_norm(grad, max_norm):
    """Rescale ``grad`` to L2 norm ``max_norm`` if its norm exceeds it.

    Returns
    -------
    grad : ndarray
        ``grad * max_norm / ||grad||`` when ``||grad|| > max_norm``, else an
        unchanged copy.
    """
    g = _as_f64(grad).copy()
    norm = np.linalg.norm(g)
    if norm > max_norm:
        g *= max_norm / norm
    return g


def l1_subgradient(params, l1, n, mask):
    """Subgradient of ``l1 * sum(|w| over masked entries) / n``.

    Returns
    -------
    grad : ndarray
        ``l1 * sign(w) * mask / n`` (with ``sign(0) = 0``).
    """
    return l1 * np.sign(_as_f64(params)) * _as_f64(mask) / n


# ---------------------------------------------------------------------------
# Learning-rate schedules
# ---------------------------------------------------------------------------


def learning_rate(
    schedule, lr_init, epoch, *, t=0, power_t=0.5, gamma=0.1, step_size=10, horizon=100, lr_min=0.0
):
    """Learning rate used during (0-based) epoch ``epoch``.

    Parameters
    ----------
    schedule : str
        ``"constant"``: ``lr_init``.
        ``"invscaling"``: ``lr_init / (t + 1) ** power_t``, ``t`` being the
        number of samples seen before this epoch.
        ``"step"``: ``lr_init * gamma ** (epoch // step_size)``.
        ``"exponential"``: ``lr_init * gamma ** epoch``.
        ``"cosine"``: ``lr_min + (lr_init - lr_min) (1 + cos(pi e / horizon)) / 2``
        with ``e = min(epoch, horizon)``.
        ``"adaptive"``: ``lr_init`` (its reductions are driven by the
        stopping logic, not by the epoch).
    lr_init : float
        Initial learning rate.
    epoch : int
        0-based epoch index.

    Returns
    -------
    lr : float

    Raises
    ------
    ValueError
        If ``schedule`` is unknown.
    """
    if schedule in ("constant", "adaptive"):
        return float(lr_init)
    if schedule == "invscaling":
        return lr_init / (t + 1) ** power_t
    if schedule == "step":
        return lr_init * gamma ** (epoch // step_size)
    if schedule == "exponential":
        return lr_init * gamma**epoch
    if schedule == "cosine":
        e = min(epoch, horizon)
        return lr_min + 0.5 * (lr_init - lr_min) * (1 + math.cos(math.pi * e / horizon))
    raise ValueError(f"unknown learning-rate schedule {schedule!r}")
